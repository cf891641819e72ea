"""CycleGAN training between two unpaired image sets, on the shared training engine's footing
(seeding, device choice, the GUI-safe torch import guard, atomic safetensors checkpoints, the
generator/blocking-twin event protocol with cancellation).

Seed 004's recipe by default where it fits a CPU: least-squares GAN loss, cycle weight 10,
identity weight 0.5 × cycle, Adam lr 2e-4 with β1 0.5, an image pool of 50 fakes, random
crops (seed: 286 load / 256 crop, batch 1; here ``crop`` and ``batch_size`` are settable),
constant lr for the first half then linear decay to 0. Every epoch's generators are kept as
checkpoints (seed 004 picked epoch 15–20: later ones began to change cell morphology), each
with a preview of a fixed tile.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._triton import avoid_triton_in_gui
from ..training.engine import TrainingCancelled, seed_everything
from .colour import check_rgb, scale_of, to_unit

log = logging.getLogger(__name__)


@dataclass
class CycleGANConfig:
    epochs: int = 20
    steps_per_epoch: int = 200
    batch_size: int = 4
    crop: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # × lambda_cycle, as in Zhu et al.
    ngf: int = 16
    n_blocks: int = 6
    ndf: int = 32
    pool_size: int = 50
    decay_from: float = 0.5  # fraction of epochs after which lr decays linearly to 0
    seed: int = 0
    device: str = "auto"


@dataclass
class CycleGANResult:
    g_ab: object
    g_ba: object
    history: list = field(default_factory=list)
    checkpoints: dict = field(default_factory=dict)  # epoch -> {"ab": path, "ba": path}
    seconds: float = 0.0
    device: str = "cpu"
    config: dict = field(default_factory=dict)


def as_unit_images(images) -> list[np.ndarray]:
    """A list of ``(h, w, 3)`` float32 RGB arrays in [0, 1] from arrays, napari layers or a folder."""
    if isinstance(images, (str, Path)):
        from ..io import read_slide

        folder = Path(images)
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in
                       {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}) if folder.is_dir() else [folder]
        arrays = []
        for p in files:
            with read_slide(p) as slide:
                arrays.append(np.asarray(slide.levels[0]))
        images = arrays
    out = []
    for img in images:
        img = img if hasattr(img, "shape") else getattr(img, "data", img)  # a napari Image layer
        if isinstance(img, (list, tuple)):  # multiscale data: full resolution
            img = img[0]
        img = np.asarray(img)
        check_rgb(img)
        out.append(to_unit(img, scale_of(img.dtype, img)).astype(np.float32))
    if not out:
        raise ValueError("no images given")
    return out


class _Pool:
    """Zhu's history of generated images: half the time the discriminator sees an older fake."""

    def __init__(self, size: int, rng):
        self.size, self.items, self.rng = size, [], rng

    def query(self, batch):
        import torch

        if self.size == 0:
            return batch
        out = []
        for img in batch.detach():
            img = img.unsqueeze(0)
            if len(self.items) < self.size:
                self.items.append(img)
                out.append(img)
            elif self.rng.random() < 0.5:
                k = int(self.rng.integers(self.size))
                out.append(self.items[k].clone())
                self.items[k] = img
            else:
                out.append(img)
        return torch.cat(out)


def _crops(images, n, crop, rng):
    batch = np.empty((n, 3, crop, crop), np.float32)
    for i in range(n):
        img = images[int(rng.integers(len(images)))]
        h, w = img.shape[:2]
        if h < crop or w < crop:
            img = np.pad(img, ((0, max(crop - h, 0)), (0, max(crop - w, 0)), (0, 0)), mode="reflect")
            h, w = img.shape[:2]
        y, x = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
        c = img[y:y + crop, x:x + crop]
        if rng.random() < 0.5:
            c = c[:, ::-1]
        if rng.random() < 0.5:
            c = c[::-1]
        batch[i] = np.rot90(c, int(rng.integers(4))).transpose(2, 0, 1) if c.shape[0] == c.shape[1] \
            else c.transpose(2, 0, 1)
    return batch * 2 - 1


def _preview(g, tile, device):
    import torch

    g.eval()
    with torch.no_grad():
        out = g(torch.as_tensor(tile.transpose(2, 0, 1)[None] * 2 - 1).to(device))
    g.train()
    return ((out[0].cpu().numpy().transpose(1, 2, 0) + 1) / 2).clip(0, 1)


def iter_train_cyclegan(images_a, images_b, config: CycleGANConfig | None = None, *,
                        checkpoint_dir=None, preview_tile=None):
    """Train generators A→B and B→A; yields ``{"event": "batch"|"epoch", ...}`` events (epoch events
    carry ``preview``: the fixed tile translated A→B by that epoch's generator) and returns a
    :class:`CycleGANResult`. ``checkpoint_dir`` receives ``epoch{NNN}_ab/ba.safetensors`` (atomically)
    and ``epoch{NNN}_preview.png`` (the fixed tile translated A→B) for every epoch.
    Closing the generator stops training between steps; the last finished epoch is kept."""
    import torch
    import torch.nn.functional as F

    from ..models.registry import resolve_device
    from ..models.weights_io import save_state
    from .cyclegan import PatchDiscriminator, ResnetGenerator, init_weights

    cfg = config or CycleGANConfig()
    if cfg.crop % 4 or cfg.crop < 32:
        raise ValueError(f"crop must be a multiple of 4 and at least 32, got {cfg.crop}")
    a, b = as_unit_images(images_a), as_unit_images(images_b)
    avoid_triton_in_gui()
    seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = resolve_device(cfg.device)
    g_ab, g_ba = ResnetGenerator(cfg.ngf, cfg.n_blocks), ResnetGenerator(cfg.ngf, cfg.n_blocks)
    d_a, d_b = PatchDiscriminator(cfg.ndf), PatchDiscriminator(cfg.ndf)
    for net in (g_ab, g_ba, d_a, d_b):
        init_weights(net)
        net.to(device).train()
    betas = (cfg.beta1, 0.999)
    opt_g = torch.optim.Adam([*g_ab.parameters(), *g_ba.parameters()], lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam([*d_a.parameters(), *d_b.parameters()], lr=cfg.lr, betas=betas)
    decay_start = int(cfg.epochs * cfg.decay_from)

    def lr_at(epoch):
        if epoch < decay_start:
            return 1.0
        return max(0.0, 1.0 - (epoch - decay_start) / max(cfg.epochs - decay_start, 1))

    scheds = [torch.optim.lr_scheduler.LambdaLR(o, lr_at) for o in (opt_g, opt_d)]
    pool_a, pool_b = _Pool(cfg.pool_size, rng), _Pool(cfg.pool_size, rng)
    if preview_tile is None:
        img = a[0]
        s = min(256, img.shape[0] // 4 * 4, img.shape[1] // 4 * 4)
        preview_tile = img[:s, :s]
    preview_tile = np.asarray(preview_tile, np.float32)
    out_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    result = CycleGANResult(g_ab, g_ba, device=device, config=asdict(cfg))
    lam_c, lam_i = cfg.lambda_cycle, cfg.lambda_identity * cfg.lambda_cycle
    t0 = time.time()
    for epoch in range(cfg.epochs):
        sums = dict.fromkeys(("g_gan", "cycle", "identity", "d"), 0.0)
        for step in range(cfg.steps_per_epoch):
            real_a = torch.as_tensor(_crops(a, cfg.batch_size, cfg.crop, rng)).to(device)
            real_b = torch.as_tensor(_crops(b, cfg.batch_size, cfg.crop, rng)).to(device)
            # generators
            for p in (*d_a.parameters(), *d_b.parameters()):
                p.requires_grad_(False)
            fake_b, fake_a = g_ab(real_a), g_ba(real_b)
            pred_fb, pred_fa = d_b(fake_b), d_a(fake_a)
            gan = F.mse_loss(pred_fb, torch.ones_like(pred_fb)) + F.mse_loss(pred_fa, torch.ones_like(pred_fa))
            cycle = F.l1_loss(g_ba(fake_b), real_a) + F.l1_loss(g_ab(fake_a), real_b)
            ident = (F.l1_loss(g_ab(real_b), real_b) + F.l1_loss(g_ba(real_a), real_a)) if lam_i > 0 \
                else torch.zeros((), device=device)
            loss_g = gan + lam_c * cycle + lam_i * ident
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            # discriminators
            for p in (*d_a.parameters(), *d_b.parameters()):
                p.requires_grad_(True)
            loss_d = 0.0
            for d, real, fake in ((d_b, real_b, pool_b.query(fake_b)), (d_a, real_a, pool_a.query(fake_a))):
                pr, pf = d(real), d(fake.detach())
                loss_d = loss_d + 0.5 * (F.mse_loss(pr, torch.ones_like(pr)) + F.mse_loss(pf, torch.zeros_like(pf)))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            for k, v in (("g_gan", gan), ("cycle", cycle), ("identity", ident), ("d", loss_d)):
                sums[k] += float(v.detach())
            yield {"event": "batch", "epoch": epoch, "step": step + 1, "steps": cfg.steps_per_epoch,
                   "loss": float(loss_g.detach())}
        for s in scheds:
            s.step()
        record = {"epoch": epoch, **{k: v / cfg.steps_per_epoch for k, v in sums.items()},
                  "lr": scheds[0].get_last_lr()[0]}
        if out_dir is not None:
            paths = {}
            for key, g in (("ab", g_ab), ("ba", g_ba)):
                paths[key] = out_dir / f"epoch{epoch + 1:03d}_{key}.safetensors"
                save_state({k: v.detach().cpu() for k, v in g.state_dict().items()}, paths[key])
            result.checkpoints[epoch + 1] = paths
        preview = _preview(g_ab, preview_tile, device)
        if out_dir is not None:  # the fixed tile as this checkpoint translates it
            from PIL import Image

            Image.fromarray(np.rint(preview * 255).astype(np.uint8)).save(out_dir / f"epoch{epoch + 1:03d}_preview.png")
            result.checkpoints[epoch + 1]["preview"] = out_dir / f"epoch{epoch + 1:03d}_preview.png"
        result.history.append(record)
        log.info("cyclegan epoch %d: %s", epoch + 1, record)
        yield {"event": "epoch", **record, "epochs": cfg.epochs, "preview": preview}
    result.seconds = time.time() - t0
    g_ab.eval()
    g_ba.eval()
    return result


def train_cyclegan(images_a, images_b, config: CycleGANConfig | None = None, *, progress=None,
                   cancel=None, **kwargs) -> CycleGANResult:
    """Blocking twin of :func:`iter_train_cyclegan` with ``progress(event)`` and ``cancel()``."""
    from .._generators import run_generator

    gen = iter_train_cyclegan(images_a, images_b, config, **kwargs)
    return run_generator(gen, on_yield=progress, cancel=cancel,
                         cancelled=lambda _: TrainingCancelled("CycleGAN training cancelled"))
