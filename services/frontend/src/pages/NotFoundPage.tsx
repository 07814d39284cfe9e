import { Link } from "react-router-dom";
import { useTitle } from "../lib/useTitle";

export function NotFoundPage() {
  useTitle("Not found");
  return (
    <section className="panel narrow">
      <h1>Nothing here</h1>
      <p>This page does not exist. Start a new job, or open one from the list of jobs.</p>
      <p className="actions">
        <Link className="button primary" to="/">
          New job
        </Link>
        <Link className="button" to="/jobs">
          Jobs
        </Link>
      </p>
    </section>
  );
}
