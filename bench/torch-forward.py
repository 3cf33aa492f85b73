"""PyTorch on one thread, the same network and weights: CPU time of one forward pass of N digits.

Usage: python3 bench/torch-forward.py WEIGHTS_DIR ROUNDS
WEIGHTS_DIR holds manifest.json ({name: shape}), <name>.f32 files (float32, Keras layouts) and
digit.f32 / expected.f32 (N scaled input digits and our probabilities for them; N = 1 for one
digit, 256 for bench/workerd-cost.ts's batch). Prints JSON.
"""
import json, os, statistics, sys, time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
root, rounds = sys.argv[1], int(sys.argv[2])
manifest = json.load(open(os.path.join(root, "manifest.json")))
w = {name: np.fromfile(os.path.join(root, name.replace("/", "_") + ".f32"), dtype=np.float32).reshape(shape) for name, shape in manifest.items()}
t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
conv1_w = t(w["conv1/kernel"].transpose(3, 2, 0, 1)); conv1_b = t(w["conv1/bias"])  # HWIO → OIHW
conv2_w = t(w["conv2/kernel"].transpose(3, 2, 0, 1)); conv2_b = t(w["conv2/bias"])
dense1_w = t(w["dense1/kernel"].T); dense1_b = t(w["dense1/bias"])
out_w = t(w["output/kernel"].T); out_b = t(w["output/bias"])

def forward(x):  # x: N×1×28×28
    x = F.relu(F.conv2d(x, conv1_w, conv1_b))
    x = F.relu(F.conv2d(x, conv2_w, conv2_b))
    x = F.max_pool2d(x, 2)
    x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flatten channels-last, like Keras
    x = F.relu(F.linear(x, dense1_w, dense1_b))
    return F.softmax(F.linear(x, out_w, out_b), dim=1)

digit = t(np.fromfile(os.path.join(root, "digit.f32"), dtype=np.float32).reshape(-1, 1, 28, 28))
expected = np.fromfile(os.path.join(root, "expected.f32"), dtype=np.float32).reshape(-1, 10)
times = []
with torch.inference_mode():
    for i in range(rounds + 10):
        start = time.process_time()
        probs = forward(digit)
        elapsed = time.process_time() - start
        if i >= 10:
            times.append(elapsed * 1000)
print(json.dumps({
    "torch": torch.__version__,
    "median_ms": statistics.median(times),
    "digits": int(digit.shape[0]),
    "max_abs_diff": float(np.abs(probs.numpy() - expected).max()),
}))
