"""Twin of ``torch.distributions.studentT``: re-exports ``StudentT``."""

from .distributions.student_t import StudentT

__all__ = ["StudentT"]
