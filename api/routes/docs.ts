/**
 * `/openapi.json` and `/docs` (Swagger UI from npm `swagger-ui-dist`, served from our own origin: no
 * CDN, so the docs work offline and no third-party script runs on our domain). Public: no key needed.
 */
import * as path from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import { buildOpenApi } from '../openapi';

const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>fairscribe API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// A file of its own rather than an inline script, so a strict Content-Security-Policy (script-src 'self') allows it.
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

export function docsRouter(): Router {
  const spec = buildOpenApi();
  const r = Router();
  r.get('/openapi.json', (_req: Request, res: Response) => {
    res.json(spec);
  });
  r.get('/docs', (_req: Request, res: Response) => {
    res.type('html').send(PAGE);
  });
  r.get('/docs/init.js', (_req: Request, res: Response) => {
    res.type('application/javascript').send(INIT);
  });
  r.use('/docs', express.static(SWAGGER_UI_DIR, { index: false, maxAge: '1h' }));
  return r;
}
