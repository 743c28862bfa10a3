"""Loss terms of the one loop: cross-entropy and knowledge distillation from teacher logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton's KD: KL(softmax(t/T) || softmax(s/T)) * T^2; zero when student equals teacher."""
    t = temperature
    return F.kl_div(
        F.log_softmax(student_logits / t, dim=-1),
        F.log_softmax(teacher_logits / t, dim=-1),
        reduction="batchmean",
        log_target=True,
    ) * (t * t)


def combined_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    alpha: float,
    temperature: float,
) -> torch.Tensor:
    ce = F.cross_entropy(logits, labels)
    if teacher_logits is None or alpha == 0:
        return ce
    return alpha * kd_loss(logits, teacher_logits, temperature) + (1 - alpha) * ce
