"""KFP components for the slimnlp steps, built from the step list; the image comes from one setting.

    from slimnlp_components import make_components
    components = make_components(cfg.kubernetes)
    task = components["prepare-data"](config_json=cfg.to_json(), parent_run_id="", tracking_uri="")

One component per step of `slimnlp.steps.spec` (STEPS and GRID_STEPS), each the function of the same
name in `slimnlp_components.steps` (the grid's in `grid_steps`) (tests/steps/test_step_list.py checks their signatures against the
list). Steps that train (`Step.gpu`) run in `gpu_image` when one is set, every other step in `image`.
"""

from typing import TYPE_CHECKING

from kfp import dsl

from slimnlp.steps.spec import GRID_STEPS, STEPS
from slimnlp_components import grid_steps, resolve, steps

if TYPE_CHECKING:
    from slimnlp.config import KubernetesConfig

# Not steps of the list (no output directory, no MLflow run): the compress pipeline's first task
# (parameters applied, one config per step, the data's fingerprint) and the grid's branch config.
HELPERS = ("resolve-config", "grid-branch-config")


def make_components(kubernetes: "KubernetesConfig") -> dict[str, dsl.base_component.BaseComponent]:
    """Build one component per step for the images of a `slimnlp.config.KubernetesConfig`.

    Args:
        kubernetes: The run config's `kubernetes` section (`image`, `gpu_image`).

    Returns:
        The components by step name (prepare-data, ...): the CLI verbs and the task names.
    """
    image = kubernetes.image
    gpu_image = kubernetes.gpu_image or image

    def build(name: str, base_image: str) -> dsl.base_component.BaseComponent:
        # The image already holds slimnlp and kfp, so nothing is pip-installed at start.
        function = name.replace("-", "_")
        func = (
            getattr(steps, function, None)
            or getattr(resolve, function, None)
            or getattr(grid_steps, function)
        )
        return dsl.component(func, base_image=base_image, install_kfp_package=False)

    built = {spec.name: build(spec.name, gpu_image if spec.gpu else image) for spec in STEPS + GRID_STEPS}
    return built | {name: build(name, image) for name in HELPERS}


__all__ = ["HELPERS", "make_components"]
