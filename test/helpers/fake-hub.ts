import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A stand-in for the Hugging Face hub on loopback, speaking its file URLs:
 * `GET /{owner}/{name}/resolve/{revision}/{path}`. Like the real hub, large files (.onnx)
 * answer 302 to a CDN URL, a missing file is 404 with `X-Error-Code: EntryNotFound`, and a
 * gated repository is 401 without the right bearer token.
 */
export interface FakeHubRepo {
  /** Folder whose files the repository serves. */
  dir: string;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
}

export interface FakeHub {
  url: string;
  /** Every request path, in order. */
  requests: string[];
  /** Authorization headers seen, in order. */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

export async function startFakeHub(repos: Record<string, FakeHubRepo>): Promise<FakeHub> {
  const requests: string[] = [];
  const authorizations: (string | undefined)[] = [];

  const sendFile = (res: ServerResponse, file: string) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(statSync(file).size) });
    createReadStream(file).pipe(res);
  };
  const notFound = (res: ServerResponse, code: string, message: string) => {
    res.writeHead(404, { 'content-type': 'text/plain', 'x-error-code': code, 'x-error-message': message });
    res.end(message);
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    requests.push(url.pathname);
    authorizations.push(req.headers.authorization);
    const cdn = url.pathname.match(/^\/cdn\/([^/]+\/[^/]+)\/(.+)$/);
    if (cdn) {
      const repo = repos[cdn[1]!];
      const file = repo && path.join(repo.dir, cdn[2]!);
      return file && existsSync(file) ? sendFile(res, file) : notFound(res, 'EntryNotFound', 'Entry not found');
    }
    const match = url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (!match) return notFound(res, 'RepoNotFound', 'Repository not found');
    const [, repoId, , filePath] = match;
    const repo = repos[repoId!];
    if (!repo) return notFound(res, 'RepoNotFound', 'Repository not found');
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      res.writeHead(401, { 'content-type': 'application/json', 'x-error-code': 'GatedRepo' });
      return res.end(JSON.stringify({ error: `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it.` }));
    }
    const file = path.join(repo.dir, filePath!);
    if (!file.startsWith(repo.dir) || !existsSync(file) || !statSync(file).isFile()) return notFound(res, 'EntryNotFound', 'Entry not found');
    if (file.endsWith('.onnx')) {
      res.writeHead(302, { location: `/cdn/${repoId}/${filePath}` });
      return res.end();
    }
    sendFile(res, file);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    authorizations,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
