"""torch.compile and torch.func.vmap friendliness (validation off, as under torch's own rule)."""

import torch

import aleatorch as D


def normal_terms(loc, scale, x):
    d = D.Normal(loc, scale, validate_args=False)
    return d.log_prob(x) + d.cdf(x) + d.log_survival_function(x) + d.entropy()


def test_normal_traces_into_one_graph():
    compiled = torch.compile(normal_terms, backend="eager", fullgraph=True)
    loc, scale, x = torch.zeros(5), torch.ones(5), torch.linspace(-3, 3, 5)
    torch.testing.assert_close(compiled(loc, scale, x), normal_terms(loc, scale, x))


def test_compiling_changes_no_global_validation_setting_of_ours():
    before = D.Distribution._validate_args
    torch.compile(normal_terms, backend="eager")(torch.zeros(2), torch.ones(2), torch.zeros(2))
    assert D.Distribution._validate_args == before
    # torch's own flag may have been flipped by the compile (a known torch trap): the
    # autouse fixture of conftest.py restores it after every test.


def test_vmap_over_parameters():
    x = torch.linspace(-2, 2, 4)
    locs = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    batched = torch.func.vmap(lambda loc: normal_terms(loc, torch.ones(4), x))(locs)
    looped = torch.stack([normal_terms(loc, torch.ones(4), x) for loc in locs])
    torch.testing.assert_close(batched, looped)
