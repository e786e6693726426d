"""The core math on an accelerator, with bases and gradients on mixed devices (runs where CUDA exists).

The trainer computes principal bases on the GPU, keeps grown bases wherever they were loaded from
(resume reads them to the CPU) and sketches on the weights' device, so every core function must let
the basis follow the tensor it acts on. CPU-only machines skip this file; ``bench/gpu_suite.sh`` runs it.
"""
import pytest
import torch

from keeplora.core import (
    GradientSketch,
    grow_basis,
    grow_basis_from_sketch,
    leak,
    principal_basis,
    project_off,
    residual_init,
    residual_init_from_sketch,
)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CPU, GPU = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize("basis_on,grad_on", [(GPU, CPU), (CPU, GPU), (GPU, GPU)])
def test_residual_init_across_devices(basis_on, grad_on):
    g = torch.Generator().manual_seed(0)
    basis = principal_basis(torch.randn(48, 32, generator=g), 0.6).to(basis_on)
    grad = torch.randn(48, 32, generator=g).to(grad_on)
    a = residual_init(grad, basis, 4)
    assert a.device.type == grad_on.type
    assert float((a @ basis.to(a.device)).abs().max()) < 1e-5
    assert project_off(grad, basis).device.type == grad_on.type


@pytest.mark.parametrize("basis_on", [CPU, GPU, None])
def test_sketch_growth_across_devices(basis_on):
    g = torch.Generator().manual_seed(1)
    basis = None if basis_on is None else principal_basis(torch.randn(40, 24, generator=g), 0.5).to(basis_on)
    sketch = GradientSketch(24, 40, basis, k=8, seed=0, device=GPU)
    for _ in range(3):
        sketch.update(torch.randn(16, 24, generator=g).to(GPU), torch.randn(16, 40, generator=g).to(GPU))
    result = sketch.result(3)
    a = residual_init_from_sketch(result, basis, 4)
    grown = grow_basis_from_sketch(basis, result, 0.99)
    assert grown.shape[1] > (0 if basis is None else basis.shape[1])
    assert float((grown.T @ grown - torch.eye(grown.shape[1], device=grown.device)).abs().max()) < 1e-4
    delta_w = torch.randn(40, 4, generator=g).to(GPU) @ a.to(GPU)            # a LoRA update B·A on the GPU
    if basis is not None:
        assert leak(delta_w, basis.cpu()) < 1e-5
    assert grow_basis(basis, torch.randn(24, 30).to(GPU), 0.9).device.type == "cuda"
