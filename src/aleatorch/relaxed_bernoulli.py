"""Twin of ``torch.distributions.relaxed_bernoulli`` (same public names)."""

from .distributions.relaxed_bernoulli import LogitRelaxedBernoulli, RelaxedBernoulli

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli"]
