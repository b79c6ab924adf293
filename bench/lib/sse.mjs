// A small streaming client for the bridge's SSE answers (POST /generate with "stream": true):
// parses `event:` / `data:` blocks as they arrive and notes when each event was received.
import http from 'node:http';

/**
 * Parses an SSE body incrementally. `onEvent({ type, id, data })` is called for each complete
 * event block (comments such as `: heartbeat` are skipped).
 */
export function createSseParser(onEvent) {
  let buf = '';
  return (chunk) => {
    buf += chunk;
    for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const ev = { type: 'message', id: undefined, data: '' };
      let any = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || line === '') continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') ev.type = value;
        else if (field === 'id') ev.id = value;
        else if (field === 'data') ev.data += (ev.data ? '\n' : '') + value;
        else continue;
        any = true;
      }
      if (any) onEvent(ev);
    }
  };
}

/**
 * POSTs `body` to a 127.0.0.1 URL and reads the SSE answer to its end. Resolves with
 * { status, headers, events: [{ type, id, data, atWall, atMono }], startWall, startMono, endMono, text }.
 * `atWall` is Date.now() when the event's block was parsed (whole ms, comparable with another
 * process's Date.now()); `atMono` is performance.now() (sub-ms, this process only).
 * A non-2xx or non-SSE answer resolves with its body in `text` and no events.
 */
export function postSse(agent, url, body, headers = {}) {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`benches only talk to 127.0.0.1, not ${u.hostname}`);
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolveReq, reject) => {
    const startWall = Date.now();
    const startMono = performance.now();
    const events = [];
    const req = http.request(
      {
        method: 'POST',
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          accept: 'text/event-stream',
          ...headers,
        },
      },
      (res) => {
        res.setEncoding('utf8');
        const isSse = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
        let text = '';
        const parse = createSseParser((ev) =>
          events.push({ ...ev, atWall: Date.now(), atMono: performance.now() }),
        );
        res.on('data', (chunk) => {
          if (isSse && res.statusCode === 200) parse(chunk);
          else text += chunk;
        });
        res.on('end', () =>
          resolveReq({
            status: res.statusCode,
            headers: res.headers,
            events,
            startWall,
            startMono,
            endMono: performance.now(),
            text,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
