// Posts previews/comment.md (written by preview-comment) on the pull request, or updates the
// comment this workflow posted before: the one by a bot whose first line is the same marker.
//
//   with:
//     script: await require('./.github/scripts/preview-comment.cjs')({ github, context, core })
const fs = require("node:fs");

module.exports = async ({ github, context }) => {
  const body = fs.readFileSync(process.env.COMMENT_FILE || "previews/comment.md", "utf8");
  const marker = body.split("\n", 1)[0];
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  const comments = await github.paginate(github.rest.issues.listComments, {
    owner,
    repo,
    issue_number,
    per_page: 100,
  });
  const previous = comments.find(
    (c) => c.user && c.user.type === "Bot" && c.body && c.body.startsWith(marker),
  );
  if (previous) {
    await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body });
  } else {
    await github.rest.issues.createComment({ owner, repo, issue_number, body });
  }
};
