// Reading the gateway's Prometheus `/metrics`.

/**
 * The series of metric `name` in `/metrics` at `url`: `[{labels, value}]`, labels as
 * an object (`{}` for an unlabelled one).
 */
export async function series(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, "gm");
  return [...text.matchAll(line)].map(([, labels = "", value]) => ({
    labels: Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v])),
    value: Number(value),
  }));
}

/**
 * The value of metric `name` summed over its series whose labels include `labels`
 * (every series when none are given); `undefined` when no series matches.
 */
export async function metric(url, name, labels = {}) {
  const matching = (await series(url, name)).filter((s) =>
    Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (matching.length === 0) return undefined;
  return matching.reduce((sum, s) => sum + s.value, 0);
}
