// Keep-alive TCP connections from the developer end to the local server, for HTTP/1 requests that
// arrive as bytes (detour-tunnel.v2): a request takes an idle connection (the most recent one) or
// dials a new one, and gives it back only when its response was complete and the connection may be
// reused (see http1-response-framing.ts). An idle connection the server closes, or that sends bytes
// nobody asked for, leaves the pool.

import net from 'node:net';

export interface LocalConnectionPool {
  /** An idle connection (reused: true) or a new one once connected; rejects with the dial error. */
  acquire(): Promise<{ socket: net.Socket; reused: boolean }>;
  /** Returns a connection whose last response completed and allows reuse. */
  release(socket: net.Socket): void;
  readonly idle: number;
  destroy(): void;
}

export function buildLocalConnectionPool(host: string, port: number, maxIdle = 64): LocalConnectionPool {
  const idle: net.Socket[] = [];
  let destroyed = false;
  const forget = (socket: net.Socket): void => {
    const i = idle.indexOf(socket);
    if (i >= 0) idle.splice(i, 1);
  };
  const onIdleEvent = function (this: net.Socket): void { forget(this); this.destroy(); };
  return {
    acquire() {
      const socket = idle.pop();
      if (socket !== undefined) {
        socket.off('data', onIdleEvent);
        socket.off('end', onIdleEvent);
        socket.off('close', onIdleEvent);
        socket.off('error', onIdleEvent);
        return Promise.resolve({ socket, reused: true });
      }
      return new Promise((resolve, reject) => {
        const s = net.connect({ host, port });
        s.setNoDelay(true);
        s.once('connect', () => { s.off('error', reject); resolve({ socket: s, reused: false }); });
        s.once('error', reject);
      });
    },
    release(socket) {
      if (destroyed || socket.destroyed || !socket.writable || idle.length >= maxIdle) { socket.destroy(); return; }
      socket.removeAllListeners('data');
      socket.removeAllListeners('end');
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      socket.removeAllListeners('drain');
      socket.on('data', onIdleEvent); // unsolicited bytes: the connection is out of step
      socket.on('end', onIdleEvent);
      socket.on('close', onIdleEvent);
      socket.on('error', onIdleEvent);
      socket.resume();
      idle.push(socket);
    },
    get idle() { return idle.length; },
    destroy() {
      destroyed = true;
      for (const s of idle.splice(0)) s.destroy();
    },
  };
}
