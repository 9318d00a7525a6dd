// One tracking issue per kind of failure, for scheduled checks (drift, review app prune).
//
//   - uses: actions/github-script@...
//     env:
//       ISSUE_TITLE: "Drift: ..."        the issue this check owns (found by title, opened by the bot)
//       ISSUE_LABEL: drift               added when the label exists
//       CHECK_CLEAN: "true"              only "true" counts as clean: empty means a step before failed
//       REPORT_FILE: drift/report.md     the body's findings (cut at 25000 characters)
//       RUNBOOK: 'docs/drift.md, "When the drift issue opens"'
//     with:
//       script: await require('./.github/scripts/tracking-issue.cjs')({ github, context, core })
//
// A failed run opens the issue, or comments on it while it is open; a clean run closes it.
const fs = require("node:fs");

const LIMIT = 25000;

module.exports = async ({ github, context, core }) => {
  const env = process.env;
  const title = env.ISSUE_TITLE;
  if (!title) {
    throw new Error("ISSUE_TITLE is not set");
  }
  const clean = env.CHECK_CLEAN === "true";
  const { owner, repo } = context.repo;
  const run = `${context.serverUrl}/${owner}/${repo}/actions/runs/${context.runId}`;
  const issues = await github.paginate(github.rest.issues.listForRepo, {
    owner,
    repo,
    state: "open",
    creator: "github-actions[bot]",
    per_page: 100,
  });
  const open = issues.find((i) => i.title === title && !i.pull_request);

  if (clean) {
    if (open) {
      await github.rest.issues.createComment({
        owner,
        repo,
        issue_number: open.number,
        body: `Clean run: ${run}. Closing.`,
      });
      await github.rest.issues.update({
        owner,
        repo,
        issue_number: open.number,
        state: "closed",
        state_reason: "completed",
      });
    }
    return;
  }

  const file = env.REPORT_FILE;
  let report = file && fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  if (!report.trim()) {
    report = "The check did not finish: a step before the report failed (see the run).";
  } else if (report.length > LIMIT) {
    report = `${report.slice(0, LIMIT)}\n\n(cut: the whole report is in the run)`;
  }
  const body = [
    `Found by ${run} on ${new Date().toISOString().slice(0, 10)}.`,
    "",
    report,
    "",
    env.RUNBOOK ? `What to do: ${env.RUNBOOK}.` : "",
  ].join("\n");

  if (open) {
    await github.rest.issues.createComment({ owner, repo, issue_number: open.number, body });
    core.notice(`commented on #${open.number}`);
    return;
  }
  let created;
  try {
    const labels = env.ISSUE_LABEL ? [env.ISSUE_LABEL] : undefined;
    created = await github.rest.issues.create({ owner, repo, title, body, labels });
  } catch (error) {
    core.warning(`could not label the issue (${error.message}): opening it without the label`);
    created = await github.rest.issues.create({ owner, repo, title, body });
  }
  core.notice(`opened #${created.data.number}`);
};
