// Data-parallel replicas: the main thread is rank 0, worker threads are ranks 1..N−1, each with its
// own wasm backend and copy of the weights. Everything a command needs crosses threads through
// SharedArrayBuffers (data sets, batch indices, weights, gradients, test-set probabilities) and
// Atomics, never postMessage.
//
// One step is two commands. Step: the main thread writes the batch's indices and wakes the workers;
// every rank computes its shard's gradient into its slot. Update: every rank adds the slots over
// its own range of the weights and applies ONE Adadelta step to that range of the shared weights
// (the accumulators are shared too), so the update is split across the threads rather than run by
// the main thread while the workers wait. Every replica loads the new weights at its next command.
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { type DigitSet, NUM_CLASSES, PIXEL_COUNT } from '../../shared/model-spec.ts';
import { addThreadMarks } from '../cli/timings.ts';
import type { AugmentConfig } from '../data/augment.ts';
import { type DropoutDraw, evaluateRange, PARAM_COUNT, PARAMS, type ShardResult, shardGradients } from './network.ts';
import { type Accumulators, adadeltaStep, type KerasAdadelta } from './optimizer.ts';
import { launchReplicaThreads, type ReplicaThread } from './replica-threads.ts';

/** Control words (Int32Array indices). */
const GENERATION = 0; // bumped by the main thread for every command
const DONE = 1; // workers that finished the current command
const COMMAND = 2;
const WEIGHTS_VERSION = 3; // bumped whenever shared weights change
const FAILED = 4; // rank + 1 of a worker that threw
const BATCH_COUNT = 5; // examples in this step's batch
const DROPOUT = 6; // 1 = training with dropout
const DROPOUT_SEED = 7;
const STEP = 8;
const AUGMENT = 9; // 1 = this step's batch is augmented with `SharedState.augmentation`
const CONTROL_WORDS = 10;
const ERROR_BYTES = 4096;

export enum Command {
  Step = 1,
  Evaluate = 2,
  Exit = 3,
  /** Softmax outputs of the test set under `SharedState.stored`. */
  Predict = 4,
  /** Sum the last Step's gradients and apply one Adadelta step, each rank over its range of the weights. */
  Update = 5,
}

/** Shared memory of a group; handed to each worker once, in one message when the group starts. */
export interface SharedState {
  workers: number;
  maxBatch: number;
  control: Int32Array;
  /** Per rank: Σ loss, correct count of its part of the last command. */
  results: Float64Array;
  /** The batch's example indices into the training set. */
  batch: Int32Array;
  weights: Float32Array;
  /** Other weights to predict with (the stored model's, dequantized), flat in PARAMS order. */
  stored: Float32Array;
  /** test.count × 10 softmax outputs of the last Predict command, row-major. */
  probabilities: Float32Array;
  /** Per rank: its shard's gradient, a full vector each (rank r at r × PARAM_COUNT). */
  grads: Float32Array;
  /** The last step's batch gradient, the sum of the ranks' (written by Update). */
  gradient: Float32Array;
  /** Adadelta's accumulators, flat in PARAMS order (the optimizer's are views of them). */
  accumulators: Accumulators;
  /** Adadelta's learning rate, ρ and ε. */
  adadelta: Float64Array;
  train: DigitSet;
  test: DigitSet;
  /** The recipe's augmentation (null: MNIST as it is), drawn per example from the dropout seed. */
  augmentation: AugmentConfig | null;
  /** Per rank: milliseconds spent augmenting, summed over the run (shown by --timings). */
  augmentMs: Float64Array;
  error: Uint8Array;
}

function sharedCopy<T extends Uint8Array | Int32Array | Float32Array | Float64Array>(
  Type: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  length: number,
  from?: ArrayLike<number>,
): T {
  const array = new Type(new SharedArrayBuffer(length * Type.BYTES_PER_ELEMENT));
  if (from) (array as unknown as { set(a: ArrayLike<number>): void }).set(from);
  return array;
}

function sharedDigits(set: DigitSet): DigitSet {
  return {
    count: set.count,
    images: sharedCopy(Uint8Array, set.count * PIXEL_COUNT, set.images),
    labels: sharedCopy(Uint8Array, set.count, set.labels),
  };
}

/** The step's per-example draws (dropout masks, augmentation) for a shard starting at `from`. */
function dropoutDraw(control: Int32Array, from: number): DropoutDraw {
  return { seed: control[DROPOUT_SEED], step: control[STEP], firstPosition: from };
}

/** Splits n examples over `parts` ranks as evenly as possible: [from, to) of a rank. */
export function shardRange(n: number, parts: number, rank: number): [number, number] {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  const from = rank * base + Math.min(rank, extra);
  return [from, from + base + (rank < extra ? 1 : 0)];
}

/**
 * A float32 tensor's data where the wasm backend keeps it, to read without dataSync's copy (the
 * ~5 MB of gradients every replica hands over at every step); `undefined` on another backend.
 * Never written in place: the backend caches XNNPACK operators with their packed weights by
 * tensor, so new weights must arrive as new tensors.
 */
function wasmData(t: tf.Tensor): Float32Array | undefined {
  const backend = tf.backend() as tf.KernelBackend & { typedArrayFromHeap?(t: tf.TensorInfo): Float32Array };
  return backend.typedArrayFromHeap && t.dtype === 'float32' ? backend.typedArrayFromHeap(t) : undefined;
}

/** Copies shared weights into a replica's variables, as new tensors (see wasmData). */
export function loadWeights(variables: readonly tf.Variable[], weights: Float32Array): void {
  // The wasm backend copies a tensor's values into its memory; the cpu backend would keep a view of shared memory.
  const copy = tf.getBackend() !== 'wasm';
  PARAMS.forEach((p, i) => {
    const values = weights.subarray(p.offset, p.offset + p.size);
    const t = tf.tensor(copy ? values.slice() : values, p.shape);
    variables[i].assign(t);
    t.dispose();
  });
}

/** `gradient[from, to)` ← the ranks' slots of the last Step added, in rank order (as one thread would). */
function sumSlots(state: SharedState, from: number, to: number): void {
  const { workers, grads, gradient } = state;
  gradient.set(grads.subarray(from, to), from);
  for (let rank = 1; rank < workers; rank++) {
    const slot = rank * PARAM_COUNT;
    for (let i = from; i < to; i++) gradient[i] += grads[slot + i];
  }
}

/** What rank r does for a command: shared by the worker threads and the main thread (rank 0). */
export class Replica {
  constructor(
    readonly state: SharedState,
    readonly rank: number,
    readonly variables: readonly tf.Variable[],
  ) {}

  private weightsVersion = 0;

  /** Reloads the shared weights if they changed since this replica last loaded them. */
  syncWeights(): void {
    const version = Atomics.load(this.state.control, WEIGHTS_VERSION);
    if (version !== this.weightsVersion) {
      loadWeights(this.variables, this.state.weights);
      this.weightsVersion = version;
    }
  }

  /** The weights' version this replica holds; the main thread's replica is current after publishing. */
  markCurrent(): void {
    this.weightsVersion = Atomics.load(this.state.control, WEIGHTS_VERSION);
  }

  /** This rank's gradient for its shard of the batch in `state.batch`, written into its slot of `state.grads`. */
  stepShard(): ShardResult {
    const { control, batch, workers, train, grads } = this.state;
    const count = control[BATCH_COUNT];
    const [from, to] = shardRange(count, workers, this.rank);
    const dropout: DropoutDraw | undefined = control[DROPOUT] ? dropoutDraw(control, from) : undefined;
    const { augmentation, augmentMs } = this.state;
    const augment =
      augmentation && control[AUGMENT] ? { ...dropoutDraw(control, from), config: augmentation } : undefined;
    const shard = shardGradients(this.variables, train, batch.subarray(from, to), count, dropout, augment, (ms) => {
      augmentMs[this.rank] += ms;
    });
    const slot = this.rank * PARAM_COUNT;
    shard.grads.forEach((g, i) => {
      grads.set(wasmData(g) ?? (g.dataSync() as Float32Array), slot + PARAMS[i].offset);
    });
    tf.dispose(shard.grads);
    return shard.result;
  }

  /**
   * This rank's range of the weights: the ranks' gradients added (in rank order, as one thread
   * would), then one Adadelta step of the shared weights and accumulators.
   */
  updateShard(): void {
    const { workers, gradient, weights, accumulators, adadelta } = this.state;
    const [from, to] = shardRange(PARAM_COUNT, workers, this.rank);
    sumSlots(this.state, from, to);
    adadeltaStep(
      { learningRate: adadelta[0], rho: adadelta[1], epsilon: adadelta[2] },
      weights.subarray(from, to),
      gradient.subarray(from, to),
      {
        squaredGrad: accumulators.squaredGrad.subarray(from, to),
        squaredUpdate: accumulators.squaredUpdate.subarray(from, to),
      },
    );
  }

  /** Test-set figures of this rank's share of the test set. */
  evaluateShard(params: readonly tf.Tensor[] = this.variables): ShardResult {
    const [from, to] = shardRange(this.state.test.count, this.state.workers, this.rank);
    return evaluateRange(params, this.state.test, from, to);
  }

  /** This rank's share of the test set under `state.stored`: figures, and softmax rows into `state.probabilities`. */
  predictShard(): ShardResult {
    const { stored, test, workers, probabilities } = this.state;
    const params = PARAMS.map((p) => tf.tensor(stored.slice(p.offset, p.offset + p.size), p.shape));
    try {
      const [from, to] = shardRange(test.count, workers, this.rank);
      return evaluateRange(params, test, from, to, { probabilities });
    } finally {
      tf.dispose(params);
    }
  }

  /** Runs one command on a worker rank and publishes its results. */
  run(command: Command): void {
    if (command === Command.Update) {
      this.updateShard();
      return;
    }
    this.syncWeights();
    const { results } = this.state;
    let result: ShardResult;
    if (command === Command.Step) {
      result = this.stepShard();
    } else if (command === Command.Predict) {
      result = this.predictShard();
    } else {
      result = this.evaluateShard();
    }
    results[2 * this.rank] = result.lossSum;
    results[2 * this.rank + 1] = result.correct;
  }
}

/** The worker-thread side: wait for a command, run it, count it done; until Exit. */
export function serveCommands(replica: Replica): void {
  const { control, error } = replica.state;
  let seen = 0;
  for (;;) {
    Atomics.wait(control, GENERATION, seen);
    seen = Atomics.load(control, GENERATION);
    const command = control[COMMAND] as Command;
    if (command === Command.Exit) return;
    try {
      replica.run(command);
    } catch (e) {
      const text = new TextEncoder().encode(
        `worker ${replica.rank}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
      error.set(text.subarray(0, ERROR_BYTES));
      Atomics.store(control, FAILED, replica.rank + 1);
    }
    Atomics.add(control, DONE, 1);
    Atomics.notify(control, DONE);
  }
}

export interface StepOutcome extends ShardResult {
  count: number;
}

/** The main thread's handle on the group: rank 0 plus N−1 worker threads. */
export class ReplicaGroup {
  readonly state: SharedState;
  private readonly replica: Replica;
  private readonly threads: Worker[] = [];
  /** The optimizer whose accumulators live in the shared memory. */
  private optimizer: KerasAdadelta | undefined;
  private threadFailure: Promise<never>;

  private constructor(state: SharedState, variables: readonly tf.Variable[]) {
    this.state = state;
    this.replica = new Replica(state, 0, variables);
    let fail!: (e: Error) => void;
    this.threadFailure = new Promise<never>((_, reject) => (fail = reject));
    this.threadFailure.catch(() => {});
    this.onThreadFailure = fail;
  }

  private onThreadFailure: (e: Error) => void;

  /**
   * Starts the group: `workers − 1` threads (`threads` if already launched, see replica-threads.ts),
   * each with its own wasm backend and replica. `variables` are the main thread's weights (the Keras
   * model's, in PARAMS order); the threads start from them.
   */
  static async start(options: {
    workers: number;
    maxBatch: number;
    variables: readonly tf.Variable[];
    train: DigitSet;
    test: DigitSet;
    augmentation?: AugmentConfig | null;
    threads?: ReplicaThread[];
  }): Promise<ReplicaGroup> {
    const { workers, maxBatch } = options;
    const single = workers === 1;
    const floats = (length: number) => (single ? new Float32Array(length) : sharedCopy(Float32Array, length));
    const state: SharedState = {
      workers,
      maxBatch,
      control: sharedCopy(Int32Array, CONTROL_WORDS),
      results: sharedCopy(Float64Array, 2 * workers),
      batch: sharedCopy(Int32Array, maxBatch),
      weights: floats(PARAM_COUNT),
      stored: floats(PARAM_COUNT),
      probabilities: floats(options.test.count * NUM_CLASSES),
      grads: floats(workers * PARAM_COUNT),
      gradient: floats(PARAM_COUNT),
      accumulators: { squaredGrad: floats(PARAM_COUNT), squaredUpdate: floats(PARAM_COUNT) },
      adadelta: sharedCopy(Float64Array, 3),
      // One thread needs no shared copies of the data.
      train: single ? options.train : sharedDigits(options.train),
      test: single ? options.test : sharedDigits(options.test),
      augmentation: options.augmentation ?? null,
      augmentMs: sharedCopy(Float64Array, workers),
      error: sharedCopy(Uint8Array, ERROR_BYTES),
    };
    const group = new ReplicaGroup(state, options.variables);
    group.publishWeights();
    const threads = options.threads ?? launchReplicaThreads(workers);
    if (threads.length !== workers - 1) throw new Error(`${threads.length} threads for a group of ${workers}`);
    const ready = threads.map(
      (thread) =>
        new Promise<void>((resolve, reject) => {
          const { worker, rank } = thread;
          if (thread.failure)
            return reject(new Error(`worker ${rank} failed while loading: ${thread.failure.message}`));
          worker.ref();
          worker.once('message', (message: { marks?: [string, number][] }) => {
            addThreadMarks(rank, message.marks ?? []);
            resolve();
          });
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`worker ${rank} exited with code ${code} while starting`)));
          // The shared memory, once: from here on everything goes through it.
          worker.postMessage({ state });
        }),
    );
    for (const { worker, rank } of threads) {
      worker.on('error', (e) => group.onThreadFailure(new Error(`worker ${rank} failed: ${e.stack ?? e.message}`)));
      worker.on(
        'exit',
        (code) => code !== 0 && group.onThreadFailure(new Error(`worker ${rank} exited with code ${code}`)),
      );
      group.threads.push(worker);
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      await Promise.all(threads.map((t) => t.worker.terminate()));
      throw error;
    }
    return group;
  }

  get workers(): number {
    return this.state.workers;
  }

  /** Milliseconds the ranks spent augmenting so far, summed over ranks. */
  get augmentMs(): number {
    return this.state.augmentMs.reduce((a, b) => a + b, 0);
  }

  /** The weights every replica trains from, flat in PARAMS order: the optimizer updates them in place. */
  get weights(): Float32Array {
    return this.state.weights;
  }

  /** Copies `params` (default: the main thread's variables, which must be current) into the shared weights. */
  publishWeights(params: readonly tf.Tensor[] = this.replica.variables): void {
    params.forEach((t, i) => {
      this.state.weights.set(t.dataSync() as Float32Array, PARAMS[i].offset);
    });
    Atomics.add(this.state.control, WEIGHTS_VERSION, 1);
    if (params === this.replica.variables) this.replica.markCurrent();
  }

  /** The last update's batch gradient (the sum of the shards'), flat in PARAMS order; valid until the next update. */
  get gradient(): Float32Array {
    return this.state.gradient;
  }

  /**
   * ONE Keras-Adadelta step of the shared weights with the last Step's gradients, split across the
   * ranks by range of the weights. The optimizer's accumulators become views of shared memory on
   * its first update (their values carried over: a resumed run's are restored before). Every replica
   * loads the new weights at its next command.
   */
  async update(optimizer: KerasAdadelta, learningRate = optimizer.config.learningRate): Promise<void> {
    if (this.optimizer !== optimizer) {
      const names = this.replica.variables.map((v) => v.name);
      optimizer.shareAccumulators(
        this.state.accumulators,
        PARAMS.map((p, i) => ({ ...p, name: names[i] })),
      );
      const { learningRate, rho, epsilon } = optimizer.config;
      this.state.adadelta.set([learningRate, rho, epsilon]);
      this.optimizer = optimizer;
    }
    this.state.adadelta[0] = learningRate;
    await this.broadcast(Command.Update, () => this.replica.updateShard());
    optimizer.countStep();
    Atomics.add(this.state.control, WEIGHTS_VERSION, 1);
  }

  /**
   * The last Step's batch gradient summed over the ranks on the main thread, into `gradient`: for
   * an update the caller applies itself (fine-tuning's Adam on some of the weights), then
   * announces with `weightsChanged`. Training's Adadelta goes through `update`, split across ranks.
   */
  sumGradients(): Float32Array {
    sumSlots(this.state, 0, PARAM_COUNT);
    return this.state.gradient;
  }

  /** The shared weights were changed in place by the caller: every replica reloads them at its next command. */
  weightsChanged(): void {
    Atomics.add(this.state.control, WEIGHTS_VERSION, 1);
  }

  /** Wakes the workers for a command and returns once they are all done. */
  private async broadcast(command: Command, ownPart: () => void): Promise<void> {
    const { control } = this.state;
    Atomics.store(control, DONE, 0);
    control[COMMAND] = command;
    Atomics.add(control, GENERATION, 1);
    Atomics.notify(control, GENERATION);
    ownPart();
    for (;;) {
      const done = Atomics.load(control, DONE);
      if (done === this.workers - 1) break;
      // Async wait: the event loop keeps running (SIGINT, a worker's death) meanwhile.
      const wait = waitAsync(control, DONE, done);
      if (wait.async) await Promise.race([wait.value, this.threadFailure]);
    }
    const failed = Atomics.load(control, FAILED);
    if (failed) {
      const text = new TextDecoder().decode(this.state.error).replace(/\0+$/, '');
      throw new Error(text || `worker ${failed - 1} failed`);
    }
  }

  /** The gradients of the batch `indices`, a shard per rank (summed by `update`), and its loss and hits. */
  async gradients(
    indices: ArrayLike<number>,
    dropout: { seed: number; step: number } | null,
    augment = this.state.augmentation !== null,
  ): Promise<StepOutcome> {
    const { control, batch, results } = this.state;
    batch.set(indices);
    control[BATCH_COUNT] = indices.length;
    control[AUGMENT] = augment && dropout ? 1 : 0;
    control[DROPOUT] = dropout ? 1 : 0;
    control[DROPOUT_SEED] = dropout?.seed ?? 0;
    control[STEP] = dropout?.step ?? 0;
    let own!: ShardResult;
    await this.broadcast(Command.Step, () => {
      this.replica.syncWeights();
      own = this.replica.stepShard();
    });
    results[0] = own.lossSum;
    results[1] = own.correct;
    return { ...this.sum(), count: indices.length };
  }

  /** Σ loss and correct count over the test set, split across ranks; `params` default to the current weights. */
  async evaluate(params?: readonly tf.Tensor[]): Promise<ShardResult> {
    if (params) {
      this.replica.syncWeights(); // the trained weights, to publish again afterwards
      this.publishWeights(params);
    }
    let own!: ShardResult;
    // Rank 0 evaluates `params` directly; its variables keep the trained weights.
    await this.broadcast(Command.Evaluate, () => {
      if (!params) this.replica.syncWeights();
      own = this.replica.evaluateShard(params);
    });
    this.state.results[0] = own.lossSum;
    this.state.results[1] = own.correct;
    const figures = this.sum();
    if (params) this.publishWeights();
    return figures;
  }

  /**
   * Softmax outputs for every test digit under `weights` (by tfjs name, e.g. a stored model's,
   * dequantized), split across the ranks; the trained weights stay as they are. The result is a
   * view of shared memory, valid until the next call.
   */
  async predict(
    weights: ReadonlyMap<string, { shape: number[]; values: Float32Array }>,
  ): Promise<ShardResult & { probabilities: Float32Array }> {
    for (const p of PARAMS) {
      const w = weights.get(p.name);
      if (!w || w.shape.join() !== p.shape.join())
        throw new Error(`weight ${p.name} is [${w?.shape ?? 'missing'}], expected [${p.shape}]`);
      this.state.stored.set(w.values, p.offset);
    }
    let own!: ShardResult;
    await this.broadcast(Command.Predict, () => (own = this.replica.predictShard()));
    this.state.results[0] = own.lossSum;
    this.state.results[1] = own.correct;
    return { ...this.sum(), probabilities: this.state.probabilities };
  }

  private sum(): ShardResult {
    let lossSum = 0;
    let correct = 0;
    for (let rank = 0; rank < this.workers; rank++) {
      lossSum += this.state.results[2 * rank];
      correct += this.state.results[2 * rank + 1];
    }
    return { lossSum, correct };
  }

  async close(): Promise<void> {
    const { control } = this.state;
    control[COMMAND] = Command.Exit;
    Atomics.add(control, GENERATION, 1);
    Atomics.notify(control, GENERATION);
    await Promise.all(
      this.threads.map((t) => new Promise((resolve) => (t.threadId < 0 ? resolve(null) : t.once('exit', resolve)))),
    );
  }
}

/** Atomics.waitAsync (Node ≥ 16; typed in TypeScript's es2024 lib, which this project does not target). */
function waitAsync(
  array: Int32Array,
  index: number,
  value: number,
): { async: boolean; value: Promise<string> | string } {
  return (Atomics as unknown as { waitAsync: typeof waitAsync }).waitAsync(array, index, value);
}
