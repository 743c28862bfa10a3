"""KFP components for the slimnlp steps; the image comes from one setting of the run config.

    from slimnlp_components import make_components
    components = make_components(cfg.kubernetes)
    task = components.prepare_data(config_json=cfg.to_json(), parent_run_id="", tracking_uri="")

The training steps run in `gpu_image` when one is set, every other step in `image`.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kfp import dsl

from slimnlp_components import steps

if TYPE_CHECKING:
    from slimnlp.config import KubernetesConfig


@dataclass(frozen=True)
class StepComponents:
    """One KFP component per pipeline step, all built for the same images."""

    prepare_data: dsl.base_component.BaseComponent
    pretrain_mlm: dsl.base_component.BaseComponent
    train_teacher: dsl.base_component.BaseComponent
    prune: dsl.base_component.BaseComponent
    distill: dsl.base_component.BaseComponent
    finetune_amp: dsl.base_component.BaseComponent
    export_onnx: dsl.base_component.BaseComponent
    benchmark: dsl.base_component.BaseComponent
    promote: dsl.base_component.BaseComponent


def make_components(kubernetes: "KubernetesConfig") -> StepComponents:
    """Build the seven components for the images of a `slimnlp.config.KubernetesConfig`.

    Args:
        kubernetes: The run config's `kubernetes` section (`image`, `gpu_image`).

    Returns:
        The components; their names (prepare-data, ...) are the CLI verbs and the task names.
    """
    image = kubernetes.image
    gpu_image = kubernetes.gpu_image or image

    def build(func, base_image: str) -> dsl.base_component.BaseComponent:
        # The image already holds slimnlp and kfp, so nothing is pip-installed at start.
        return dsl.component(func, base_image=base_image, install_kfp_package=False)

    return StepComponents(
        prepare_data=build(steps.prepare_data, image),
        pretrain_mlm=build(steps.pretrain_mlm, gpu_image),
        train_teacher=build(steps.train_teacher, gpu_image),
        prune=build(steps.prune, gpu_image),
        distill=build(steps.distill, gpu_image),
        finetune_amp=build(steps.finetune_amp, gpu_image),
        export_onnx=build(steps.export_onnx, image),
        benchmark=build(steps.benchmark, image),
        promote=build(steps.promote, image),
    )


__all__ = ["StepComponents", "make_components"]
