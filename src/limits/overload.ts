/** How overload is answered, shared by the REST hook and the WebSocket gateway. */
import { unavailable } from '../errors.js';

/** what Retry-After (and `retryAfterMs`) says when the instance is overloaded or full */
export const OVERLOAD_RETRY_AFTER_MS = 5000;

export const overloaded = () => unavailable('the service is overloaded, retry later', OVERLOAD_RETRY_AFTER_MS);
