// Public surface of @pixelvla/model (browser-safe). Node-only runner: '@pixelvla/model/node'.
export const MODEL_PACKAGE_VERSION = '0.1.0';

export * from './errors';
export * from './rle';
export * from './prompts';
export * from './wire';
export * from './observation';
export {
  TOKEN_DIM,
  makeFeeds,
  type Backend,
  type PromptEncoding,
  type PromptEncoderRunner,
} from './runner-core';
export { createPromptEncoder, webgpuAvailable, type PromptEncoderOptions } from './runner-web';
