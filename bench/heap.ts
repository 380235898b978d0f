/**
 * The live heap of a target process: what its objects hold after a full
 * garbage collection, read through the process's inspector (every target
 * runs with `--inspect=127.0.0.1:0`, see child.ts). RSS growth, the other
 * memory figure, also counts garbage and heap the process has not given
 * back; this one counts only what is still referenced.
 */
import WebSocket from 'ws';

/** process.memoryUsage() after a full GC, in bytes */
export interface LiveMemory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export async function liveMemory(inspectorUrl: string, timeoutMs = 60_000): Promise<LiveMemory> {
  const ws = new WebSocket(inspectorUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 0;
  const call = (method: string, params: object = {}) =>
    new Promise<{ result?: { value?: unknown } }>((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => reject(new Error(`inspector: ${method} timed out`)), timeoutMs);
      const onMessage = (data: WebSocket.RawData) => {
        const reply = JSON.parse(String(data)) as { id?: number; result?: { result?: { value?: unknown } }; error?: { message: string } };
        if (reply.id !== id) return;
        ws.off('message', onMessage);
        clearTimeout(timer);
        if (reply.error) reject(new Error(`inspector: ${method}: ${reply.error.message}`));
        else resolve(reply.result ?? {});
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call('HeapProfiler.enable');
    // twice: objects with finalizers and weak references need a second pass to go
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.evaluate', { expression: 'process.memoryUsage()', returnByValue: true });
    const value = usage.result?.value as Partial<LiveMemory> | undefined;
    if (typeof value?.heapUsed !== 'number') throw new Error('inspector: no memoryUsage in the answer');
    return value as LiveMemory;
  } finally {
    ws.close();
  }
}
