// Docker HEALTHCHECK for Vigil: exit 0 when GET /ready answers 200, 1 otherwise.
// A plain Node script because the runtime image has no curl or wget. It checks readiness, not
// liveness: Docker only labels a container unhealthy (it never restarts it), so the label
// should tell the truth about whether this container can serve predictions.
// The health port (VIGIL_HEALTH_PORT, set in the image) answers from a thread of its own, so a
// server saturated by requests still answers here at once; without it, the main port.
const port = process.env.VIGIL_HEALTH_PORT || process.env.PORT || '8000';
const url = process.env.VIGIL_HEALTHCHECK_URL || `http://127.0.0.1:${port}/ready`;
const timeoutMs = Number(process.env.VIGIL_HEALTHCHECK_TIMEOUT_MS || 4000);

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await response.text();
  if (response.status === 200) process.exit(0);
  console.error(`not ready: ${response.status} ${body.slice(0, 300)}`);
} catch (error) {
  console.error(`unreachable: ${url}: ${error.cause?.code ?? error.message}`);
}
process.exit(1);
