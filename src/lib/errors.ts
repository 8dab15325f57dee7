/**
 * An error whose message is meant for the user as is: the CLI prints it on one line and exits non-zero,
 * never with a stack trace.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The message of anything thrown, without a stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return err.message || code || err.name;
  }
  return String(err);
}

/**
 * The one error type of the API servers (the Docker API, the token service): what the client is
 * answered, `status` and `message` (api/respond.ts writes it as Docker's `{"message": ...}`). Thrown
 * anywhere below a handler (scheduler, create path, handlers) and turned into HTTP at the server's
 * error path only, by errorStatus.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status an error thrown by a handler is answered with: an ApiError's own, anything else 500. */
export function errorStatus(err: unknown): number {
  return err instanceof ApiError ? err.status : 500;
}
