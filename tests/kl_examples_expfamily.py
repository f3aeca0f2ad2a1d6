"""KL of the exponential-family (Bregman) fallback, merged into ``test_kl.py``.

The pair ``(ExponentialFamily, ExponentialFamily)`` is reached only by a family without a
closed-form KL, so the example is a Gamma seen through its exponential-family parts alone
(natural parameters and log-normalizer), built on either library's ``ExponentialFamily``.
"""

import torch

import aleatorch

F64 = torch.float64
FAMILIES = ["ExponentialFamily"]
_CLASSES: dict = {}


def exp_family_gamma(module):
    """The class ``ExpFamilyGamma`` for ``module`` (aleatorch or torch.distributions)."""
    if module.__name__ in _CLASSES:
        return _CLASSES[module.__name__]

    class ExpFamilyGamma(module.ExponentialFamily):
        arg_constraints = {
            "concentration": module.constraints.positive,
            "rate": module.constraints.positive,
        }
        support = module.constraints.positive
        has_rsample = True

        def __init__(self, concentration, rate, validate_args=None):
            self._gamma = module.Gamma(concentration, rate)
            self.concentration, self.rate = self._gamma.concentration, self._gamma.rate
            super().__init__(self._gamma.batch_shape, validate_args=False)

        @property
        def _natural_params(self):
            return (self.concentration - 1, -self.rate)

        def _log_normalizer(self, x, y):
            return torch.lgamma(x + 1) + (x + 1) * torch.log(-y.reciprocal())

        def sample(self, sample_shape=torch.Size(), generator=None):
            kwargs = {} if generator is None else {"generator": generator}
            return self._gamma.sample(sample_shape, **kwargs)

        def log_prob(self, value):
            return self._gamma.log_prob(value)

    _CLASSES[module.__name__] = ExpFamilyGamma
    return ExpFamilyGamma


EXAMPLES = {
    ("ExponentialFamily", "ExponentialFamily"): lambda D, t: (
        exp_family_gamma(D)(t([0.6, 2.5, 7.0]), t([1.3, 0.4, 2.0])),
        exp_family_gamma(D)(t([1.0, 2.0, 3.0]), t([1.0, 1.0, 0.5])),
    ),
}


def _random(g, s):
    pos = lambda: torch.randn(s, dtype=F64, generator=g).exp()  # noqa: E731
    return exp_family_gamma(aleatorch)(pos(), pos())


RANDOM = {"ExponentialFamily": _random}
ALWAYS_INFINITE: set = set()
# torch detaches p's natural parameters, so its gradient with respect to p is missing: ours
# is checked against the closed-form Gamma KL instead.
REFERENCE_GRADIENT = {
    ("ExponentialFamily", "ExponentialFamily"): lambda p, q: aleatorch.kl_divergence(
        aleatorch.Gamma(p.concentration, p.rate), aleatorch.Gamma(q.concentration, q.rate)
    )
}
