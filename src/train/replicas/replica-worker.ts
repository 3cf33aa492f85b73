// A worker thread of the replica group (parallel.ts): its own wasm backend, loaded as soon as the
// thread is launched; then the group's shared memory, once, and it serves commands from it until
// told to exit.
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { absoluteNow } from '../cli/timings.ts';
import { useWasmBackend } from '../kernels/backend.ts';
import { PARAMS } from './network.ts';
import { loadWeights, Replica, type SharedState, serveCommands } from './parallel.ts';

const marks = (globalThis as { __replicaMarks?: [string, number][] }).__replicaMarks ?? [];
marks.push(['modules loaded (tfjs)', absoluteNow()]);
const { rank } = workerData as { rank: number };
await useWasmBackend();
marks.push(['wasm backend ready', absoluteNow()]);
const { state } = await new Promise<{ state: SharedState }>((resolve) => parentPort!.once('message', resolve));
const variables = PARAMS.map((p) => tf.variable(tf.zeros(p.shape), true, p.name));
loadWeights(variables, state.weights);
marks.push(['group joined, weights loaded', absoluteNow()]);
parentPort!.postMessage({ marks });
serveCommands(new Replica(state, rank, variables));
