// Runs the script of an actions/github-script step against a stand-in for GitHub's REST API.
//
//   node github_script.cjs SCRIPT_FILE STATE_FILE
//
// STATE_FILE holds {"comments": [...], "issues": [...], "context": {...}, "failLabels": bool}:
// what the API lists. The script runs as actions/github-script v8 runs it: an async function of
// github, context, core and require, where require resolves a relative path from the working
// directory (the workspace). The calls it made are printed as JSON. Only the calls the
// workflows use are answered, each in the shape the REST API returns.
const fs = require("node:fs");

const [scriptFile, stateFile] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
const calls = [];
const record = (name, answer) => async (params) => {
  calls.push({ call: name, params });
  return answer(params);
};

const github = {
  paginate: async (method, params) => (await method(params)).data,
  rest: {
    issues: {
      listComments: record("issues.listComments", () => ({ data: state.comments || [] })),
      listForRepo: record("issues.listForRepo", (p) => ({
        data: (state.issues || []).filter(
          (i) => (!p.creator || i.user.login === p.creator) && (!p.state || i.state === p.state),
        ),
      })),
      createComment: record("issues.createComment", () => ({ data: { id: 901 } })),
      updateComment: record("issues.updateComment", () => ({ data: {} })),
      update: record("issues.update", () => ({ data: {} })),
      create: record("issues.create", (p) => {
        if (state.failLabels && p.labels) {
          throw new Error("Validation Failed: label does not exist");
        }
        return { data: { number: 77 } };
      }),
    },
  },
};
const core = {
  notice: (m) => calls.push({ call: "core.notice", params: m }),
  warning: (m) => calls.push({ call: "core.warning", params: m }),
};
const context = {
  repo: { owner: "dfe", repo: "npq-analytics" },
  issue: { number: 12 },
  serverUrl: "https://github.com",
  runId: 4242,
  ...(state.context || {}),
};

const path = require("node:path");
const workspaceRequire = (id) =>
  require(id.startsWith("./") || id.startsWith("../") ? path.resolve(process.cwd(), id) : id);

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const run = new AsyncFunction("github", "context", "core", "require", fs.readFileSync(scriptFile, "utf8"));
run(github, context, core, workspaceRequire)
  .then(() => process.stdout.write(JSON.stringify(calls)))
  .catch((error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error));
    process.exit(1);
  });
