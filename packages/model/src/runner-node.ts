// Prompt-encoder runner over onnxruntime-node, for tests and benchmarks. A separate entry
// (@pixelvla/model/node) so browser bundles never import the native addon.

import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import { EncoderError } from './errors';
import { wrapSession, type PromptEncoderRunner } from './runner-core';

export * from './index';

export interface NodePromptEncoderOptions {
  modelPath?: string;
  modelBytes?: Uint8Array;
  intraOpNumThreads?: number;
}

export async function createNodePromptEncoder(
  options: NodePromptEncoderOptions,
): Promise<PromptEncoderRunner> {
  const model = options.modelBytes ?? (options.modelPath ? await readFile(options.modelPath) : undefined);
  if (!model) throw new EncoderError('createNodePromptEncoder needs modelPath or modelBytes');
  try {
    const session = await ort.InferenceSession.create(new Uint8Array(model), {
      executionProviders: ['cpu'],
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
    });
    return wrapSession(ort, session, 'cpu');
  } catch (e) {
    throw new EncoderError(`could not load the prompt encoder: ${(e as Error).message}`, { cause: e });
  }
}
