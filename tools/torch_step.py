"""The reference for `deno task bench --compare`: the same SimCLR step in PyTorch on the CPU.

Same network as src/models/resnet.ts (CIFAR ResNet: 3x3 stem convolution without bias, batch
norm, ReLU, BasicBlocks with stride 2 at the first block of every stage after the first and a
1x1 convolution + batch norm shortcut there, global average pool), the projection head of
src/models/projection_head.ts (Dense-ReLU-Dense, L2 normalisation), the symmetric NT-Xent of
`ntXentLoss` (src/losses/nt_xent.ts, temperature 0.1) and one Adam step (lr 1e-3). B images
with 2 views go through the network as 2B rows in one pass, as tools/bench.ts's train step does.
Forward: the backbone alone in inference mode on B images, as tools/bench.ts measures it.

Views are fixed random images. Every figure is the mean over --iters calls after one untimed
warm-up call. Prints one JSON line on stdout.

  /usr/bin/python3 tools/torch_step.py --threads 1 --batch 256 --size 16 --iters 5
"""

import argparse
import json
import time

import torch
from torch import nn
import torch.nn.functional as F

# src/models/resnet.ts's BACKBONES; the bench passes the widths and blocks it measures.
BN_MOMENTUM = 0.1  # PyTorch's convention: tfjs momentum 0.9
BN_EPSILON = 1e-5


def conv(in_channels, out_channels, kernel, stride):
    # PyTorch's padding = k // 2, symmetric, as resnet.ts's explicit zero padding.
    return nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, bias=False)


def batch_norm(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = conv(in_channels, out_channels, 3, stride)
        self.bn1 = batch_norm(out_channels)
        self.conv2 = conv(out_channels, out_channels, 3, 1)
        self.bn2 = batch_norm(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                conv(in_channels, out_channels, 1, stride), batch_norm(out_channels)
            )

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class Backbone(nn.Module):
    def __init__(self, widths, blocks):
        super().__init__()
        self.stem = nn.Sequential(conv(3, widths[0], 3, 1), batch_norm(widths[0]), nn.ReLU())
        layers = []
        channels = widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks)):
            for block in range(count):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(channels, width, stride))
                channels = width
        self.stages = nn.Sequential(*layers)

    def forward(self, x):
        return self.stages(self.stem(x)).mean(dim=(2, 3))


class ProjectionHead(nn.Module):
    def __init__(self, in_dim, hidden_dim, out_dim):
        super().__init__()
        self.hidden = nn.Linear(in_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, out_dim)

    def forward(self, x):
        return F.normalize(self.out(F.relu(self.hidden(x))), dim=1)


def nt_xent(view0, view1, temperature=0.1):
    """ntXentLoss: every one of the 2B views anchors once, the other view of its image positive."""
    contrast = torch.cat([view0, view1], 0)
    logits = contrast @ contrast.t() / temperature
    self_mask = torch.eye(contrast.shape[0], dtype=torch.bool)
    denominator = torch.logsumexp(logits.masked_fill(self_mask, float("-inf")), 1)
    pair = (view0 * view1).sum(1) / temperature
    return (denominator - torch.cat([pair, pair], 0)).mean()


def count(module):
    """Weights as tfjs counts them: parameters plus batch norm's running mean and variance."""
    params = sum(p.numel() for p in module.parameters())
    stats = sum(b.numel() for name, b in module.named_buffers() if "running_" in name)
    return params + stats


def timed(body, iters):
    body()
    start = time.perf_counter()
    for _ in range(iters):
        body()
    return (time.perf_counter() - start) * 1000 / iters


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--widths", default="16,32,64,128")
    parser.add_argument("--blocks", default="1,1,1,1")
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    blocks = [int(b) for b in args.blocks.split(",")]

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    backbone = Backbone(widths, blocks)
    head = ProjectionHead(widths[-1], widths[-1], 128)
    optimizer = torch.optim.Adam(
        list(backbone.parameters()) + list(head.parameters()), lr=1e-3
    )
    shape = (args.batch, 3, args.size, args.size)
    images = torch.rand(shape)
    other_views = torch.rand(shape)

    def forward():
        backbone.eval()
        with torch.no_grad():
            backbone(images)

    def train_step():
        backbone.train()
        optimizer.zero_grad(set_to_none=True)
        projected = head(backbone(torch.cat([images, other_views], 0)))
        loss = nt_xent(projected[: args.batch], projected[args.batch :])
        loss.backward()
        optimizer.step()
        value = loss.item()
        if value != value:
            raise RuntimeError(f"Cannot benchmark: the loss became {value}")

    forward_ms = timed(forward, args.iters)
    train_ms = timed(train_step, args.iters)
    print(
        json.dumps(
            {
                "framework": f"torch {torch.__version__}",
                "threads": torch.get_num_threads(),
                "batch": args.batch,
                "inputSize": args.size,
                "iters": args.iters,
                "backboneParams": count(backbone),
                "headParams": count(head),
                "forwardImagesPerSecond": round(args.batch * 1000 / forward_ms, 1),
                "forwardMsPerBatch": round(forward_ms, 2),
                "trainPairsPerSecond": round(args.batch * 1000 / train_ms, 1),
                "trainMsPerStep": round(train_ms, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
