import { api } from "../api/client";
import { useLoaded } from "../lib/useLoaded";
import { quotaLines, type QuotaLine } from "./usage";

function QuotaRow({ quota }: { quota: QuotaLine }) {
  const titleId = `quota-${quota.id}`;
  return (
    <li className="quota">
      <div className="quota-head">
        <span id={titleId} className="quota-title">
          {quota.title}
        </span>
        <span className={quota.full ? "quota-amount full" : "quota-amount"}>
          {quota.amount}
          {quota.full && " · limit reached"}
        </span>
      </div>
      {quota.fraction !== null && (
        <div
          className={quota.full ? "progress bad" : "progress"}
          role="meter"
          aria-labelledby={titleId}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(quota.fraction * 100)}
          aria-valuetext={quota.amount}
        >
          <div className="progress-fill" style={{ width: `${quota.fraction * 100}%` }} />
        </div>
      )}
      <p className="hint">{quota.note}</p>
    </li>
  );
}

/** How much of each quota the account uses now; read once when the page opens. */
export function UsagePanel() {
  const usage = useLoaded(api.usage);
  return (
    <section className="panel account-section" aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage</h2>
      {usage.error && (
        <p className="error" role="alert">
          {usage.error}
        </p>
      )}
      {usage.data === null && !usage.error && <p className="muted">Loading usage…</p>}
      {usage.data && (
        <ul className="quotas">
          {quotaLines(usage.data).map((quota) => (
            <QuotaRow key={quota.id} quota={quota} />
          ))}
        </ul>
      )}
    </section>
  );
}
