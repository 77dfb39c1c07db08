// Typed errors mirroring pixelvla/errors.py: every user-triggerable failure carries a stable
// snake_case `code` (the same strings the Python side and the server's JSON errors use).

export type ErrorCode = 'invalid_prompt' | 'invalid_rle' | 'invalid_message' | 'encoder_failed';

export class PixelVLAError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A visual prompt or its featurised arrays are invalid. */
export class PromptError extends PixelVLAError {
  constructor(message: string) {
    super('invalid_prompt', message);
  }
}

/** A COCO run-length encoding is malformed or does not match its declared size. */
export class RleError extends PixelVLAError {
  constructor(message: string) {
    super('invalid_rle', message);
  }
}

/** A msgpack message is malformed, too large, or carries a disallowed array dtype. */
export class WireError extends PixelVLAError {
  constructor(message: string) {
    super('invalid_message', message);
  }
}

/** The ONNX runtime could not load or run the prompt encoder. */
export class EncoderError extends PixelVLAError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('encoder_failed', message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
