"""The module of ``kit/tiny``'s backbone (imports torch; see ``_tiny``)."""

from __future__ import annotations

import torch
from torchvision import transforms

from biobench_core.contract._backbone import EncodedImgBatch, VisionBackbone

__all__ = ["TinyBackbone"]


class TinyBackbone(VisionBackbone):
    """A 3x3 convolution with seeded random weights and a ReLU, mean-pooled to 16 features over a 32x32 input;
    its 32x32 feature map is the patch features. Deterministic: the same image gives the same features."""

    def __init__(self, spec, weights=None):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) / 3)
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator) / 10)
        self.net = torch.nn.Sequential(conv, torch.nn.ReLU())
        self.weights_id = "random:seed=0"

    def img_encode(self, batch):
        fmap = self.net(batch)
        return EncodedImgBatch(fmap.mean(dim=(2, 3)), fmap.flatten(2).transpose(1, 2))

    def make_img_transform(self):
        return transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
