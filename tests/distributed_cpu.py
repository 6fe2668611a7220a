"""`fastbook_ch7 run` for `accelerate launch` on a machine without a GPU (tests/test_distributed.py).

fastai 2.8's `DistributedDL._broadcast` moves the batch order to CUDA before broadcasting it (NCCL needs that), so
fastai's own engine cannot run on CPUs (gloo) as is: this replaces that one method with one that broadcasts on the
process group's device, then runs the ordinary entry point. Nothing else differs from a multi-GPU run."""
import sys, torch
from fastai.torch_core import LongTensor
from fastai.distributed import DistributedDL

def _broadcast(self, t, rank):
    t = LongTensor(t)
    if torch.distributed.get_backend() == 'nccl': t = t.cuda()
    torch.distributed.broadcast(t, rank)
    return t.cpu().tolist()

DistributedDL._broadcast = _broadcast

if __name__ == '__main__':
    from fastbook_ch7.cli import main
    sys.exit(main())
