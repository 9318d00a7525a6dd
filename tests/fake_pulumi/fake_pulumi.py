"""A stand-in for the `pulumi` CLI: Pulumi CLI v3.272.0 with a DIY (file://) backend.

The Pulumi CLI cannot be installed on these machines, so the tests put this script first on
PATH (through a two-line `pulumi` wrapper) to test `npq-events review` on the real Automation
API (pulumi.automation 3.272). It answers the subcommands that path invokes, with the same
arguments, the same output and the same exit codes as the real CLI of that version:

    pulumi version                                 prints v3.272.0
    stack select --stack S                         exit 6 "no stack named 'S' found" if none
    stack init S                                   "Created stack 'S'"; writes encryptionsalt
    stack ls --json                                [{"name", "current", "lastUpdate"?, ...}]
    stack history --json [--show-secrets] [--page-size N --page P] --stack S   newest first
    stack output --json [--show-secrets] --stack S
    stack export [--show-secrets] --stack S        the deployment, version 3 (apitype)
    stack rm --yes [--force] [--preserve-config] S refuses while resources remain
    config --show-secrets --json --stack S
    config set-all --stack S --plaintext k=v ...   writes Pulumi.S.yaml
    config rm-all --stack S k ...
    up --yes --skip-preview --exec-kind auto.local --stack S
    destroy --skip-preview --yes --exec-kind auto.local --stack S

(each after the global --non-interactive the Automation API puts first).

Sources. Every answer follows the CLI's own source, github.com/pulumi/pulumi; the comment at
each answer names the file. 3.272.0's tree is not in the snapshot available to this project:
the files were read at master 1b5949891b (2026-08-21, after the v3.259.0 release), and the
parts used here (stack_list.go's JSON, the DIY backend's stack summary and checkpoints,
exit_codes.go, backenderr.go) had not changed since 2025 or earlier bar exit_codes.go
(2026-06). Paths below are relative to that repository.

JSON is printed as the CLI's `ui.FprintJSON` prints it (pkg/cmd/pulumi/ui/json.go): two-space
indent, map keys sorted, struct fields in declaration order, a trailing newline. Exit codes
follow the CLI's exit-code taxonomy (pkg/cmd/pulumi/cmd/exit_codes.go, v3.226.1 and later): 0
success, 1 generic error (including a failed update), 2 invalid flags or arguments, 3 not
logged in, 6 stack not found. Error messages are the CLI's own (pkg/backend/backenderr/
backenderr.go: "error: no stack named 'S' found", which the Automation API maps to
StackNotFoundError).

Like the real CLI, `up` runs the project's program (Pulumi.yaml `main`, default __main__.py)
with the config in Pulumi.<stack>.yaml; here it runs under the Pulumi SDK's mock engine
(infra.program.offline_plan.run_program), which answers for the gcp provider, so outputs are
the program's own. `destroy` deletes the recorded resources without running the program (as
the CLI does).

State lives in the directory named by PULUMI_BACKEND_URL=file://<dir>, as the DIY backend's
does; the current stack is kept there too. A stack's state mirrors the DIY checkpoint
(pkg/backend/diy/state.go, apitype.CheckpointV3): `stack init` writes a checkpoint with no
`latest` deployment (`deployed` false here), and the first update that reaches the engine,
successful or not, writes one, stamped with the time of the write (`lastUpdate`). Every call
is appended to the file named by NPQ_FAKE_PULUMI_LOG as one JSON line: {"argv": [...],
"exit": N}. NPQ_FAKE_PULUMI_NOW (seconds since the epoch) sets the clock, so tests can make a
stack's last update old.
Not modelled: other backends, secrets, policy packs, the gRPC event log, stack tags.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import yaml

VERSION = "v3.272.0"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_AUTH, EXIT_STACK_NOT_FOUND = 0, 1, 2, 3, 6
STACK_NAME_RE = re.compile(r"\A[A-Za-z0-9_.-]{1,100}\Z")
PASSPHRASE_ERROR = (
    'constructing secrets manager of type "passphrase": passphrase must be set with '
    "PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
)


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def fprint_json(value: object) -> None:
    """ui.FprintJSON (pkg/cmd/pulumi/ui/json.go): indented JSON and a newline."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def now() -> float:
    return float(os.environ.get("NPQ_FAKE_PULUMI_NOW") or time.time())


def format_time(epoch: float) -> str:
    """The CLI's cmd.FormatTime (pkg/cmd/pulumi/cmd/time.go): RFC 5424, UTC, milliseconds."""
    seconds, millis = divmod(int(epoch * 1000), 1000)  # Go's Format truncates
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class Flags:
    """Cobra-style flag parsing for the flags each command declares."""

    def __init__(self, args: list[str], bools: set[str], values: set[str], multi: set[str] = ()):
        self.bools: dict[str, bool] = {}
        self.values: dict[str, str] = {}
        self.multi: dict[str, list[str]] = {name: [] for name in multi}
        self.positional: list[str] = []
        items = iter(args)
        for arg in items:
            if arg == "--":
                self.positional.extend(items)
                break
            if not arg.startswith("--"):
                self.positional.append(arg)
                continue
            name, has_value, value = arg[2:].partition("=")
            if name in bools:
                self.bools[name] = value != "false" if has_value else True
            elif name in values or name in self.multi:
                if not has_value:
                    value = next(items, None)
                    if value is None:
                        raise CliError(f"flag needs an argument: --{name}", EXIT_USAGE)
                if name in self.multi:
                    self.multi[name].append(value)
                else:
                    self.values[name] = value
            else:
                raise CliError(f"unknown flag: --{name}", EXIT_USAGE)


class Backend:
    """The DIY backend's state: one JSON file per stack, and the current stack."""

    def __init__(self, project_dir: Path, url: str | None = None) -> None:
        url = url if url is not None else os.environ.get("PULUMI_BACKEND_URL", "")
        if not url:
            # No backend and no token: backenderr.MissingEnvVarForNonInteractiveError, an
            # authentication error, exit 3 (backenderr.go, exit_codes.go).
            if os.environ.get("PULUMI_ACCESS_TOKEN"):
                raise CliError("this stand-in serves file:// backends only")
            raise CliError(
                "PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions",
                EXIT_AUTH,
            )
        if not url.startswith("file://"):
            raise CliError(f"this stand-in serves file:// backends only, not {url}")
        self.root = Path(url[len("file://") :]) / ".pulumi-standin"
        (self.root / "stacks").mkdir(parents=True, exist_ok=True)
        self.project_dir = project_dir
        self.project = project_name(project_dir)

    def path(self, stack: str) -> Path:
        return self.root / "stacks" / f"{self.project}.{stack}.json"

    def exists(self, stack: str) -> bool:
        return self.path(stack).is_file()

    def load(self, stack: str) -> dict:
        # backenderr.StackNotFoundError ("no stack named '%s' found"), exit 6.
        if not self.exists(stack):
            raise CliError(f"no stack named '{stack}' found", EXIT_STACK_NOT_FOUND)
        return json.loads(self.path(stack).read_text())

    def save(self, stack: str, state: dict) -> None:
        self.path(stack).write_text(json.dumps(state, indent=1))

    def names(self) -> list[str]:
        prefix = f"{self.project}."
        return sorted(
            p.name[len(prefix) : -len(".json")]
            for p in (self.root / "stacks").glob("*.json")
            if p.name.startswith(prefix)
        )

    @property
    def current(self) -> str:
        path = self.root / f"current.{self.project}"
        return path.read_text() if path.is_file() else ""

    @current.setter
    def current(self, stack: str) -> None:
        (self.root / f"current.{self.project}").write_text(stack)


def project_name(project_dir: Path) -> str:
    document = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    return str(document["name"])


def find_project() -> Path:
    here = Path.cwd()
    for directory in (here, *here.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    # pkg/workspace/workspace.go (DetectProjectPathFrom's caller)
    raise CliError(
        f"no Pulumi.yaml project file found (searching upwards from {here}). If you have not "
        "created a project yet, use `pulumi new` to do so"
    )


def require_passphrase() -> None:
    """The passphrase secrets manager's refusal (pkg/secrets/passphrase/manager.go), exit 1."""
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ and not os.environ.get(
        "PULUMI_CONFIG_PASSPHRASE_FILE"
    ):
        raise CliError(PASSPHRASE_ERROR)


def stack_of(flags: Flags, backend: Backend) -> str:
    stack = flags.values.get("stack") or backend.current
    if not stack:  # backenderr.NoStackSelectedError, exit 6
        raise CliError("no stack selected; specify a stack name with --stack", EXIT_STACK_NOT_FOUND)
    return stack


# -- the stack's config file (Pulumi.<stack>.yaml), as the CLI reads and writes it ----------


def config_file(backend: Backend, stack: str) -> Path:
    return backend.project_dir / f"Pulumi.{stack}.yaml"


def read_config_file(backend: Backend, stack: str) -> dict:
    path = config_file(backend, stack)
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def write_config_file(backend: Backend, stack: str, document: dict) -> None:
    config_file(backend, stack).write_text(yaml.safe_dump(document, sort_keys=False))


def flat_config(backend: Backend, stack: str) -> dict[str, str]:
    """Config as the engine hands it to the program: structured values as JSON text."""
    config = read_config_file(backend, stack).get("config") or {}
    flat = {}
    for key, value in config.items():
        if isinstance(value, str):
            flat[key] = value
        elif isinstance(value, bool):
            flat[key] = "true" if value else "false"
        elif isinstance(value, dict | list):
            flat[key] = json.dumps(value)
        else:
            flat[key] = str(value)
    return flat


def full_key(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


# -- commands --------------------------------------------------------------------------------


def cmd_version(args: list[str]) -> int:
    # pkg/cmd/pulumi/version/version.go: the version and a newline.
    print(VERSION)
    return EXIT_OK


def cmd_stack(args: list[str]) -> int:
    if not args:
        raise CliError("the stand-in does not answer `pulumi stack` without a subcommand")
    sub, rest = args[0], args[1:]
    backend = Backend(find_project())
    if sub == "select":
        # pkg/cmd/pulumi/stack/stack_select.go: no name (non-interactive) is
        # NoStackSelectedError, an unknown one StackNotFoundError (both exit 6) unless --create.
        flags = Flags(rest, {"create"}, {"stack", "secrets-provider"})
        stack = flags.values.get("stack") or (flags.positional[0] if flags.positional else "")
        if not stack:
            raise CliError(
                "no stack selected; specify a stack name with --stack", EXIT_STACK_NOT_FOUND
            )
        if not backend.exists(stack):
            if not flags.bools.get("create"):
                raise CliError(f"no stack named '{stack}' found", EXIT_STACK_NOT_FOUND)
            return init_stack(backend, stack)
        backend.current = stack
        return EXIT_OK
    if sub == "init":
        # pkg/cmd/pulumi/stack/stack_new.go: "missing stack name" is a plain error, exit 1.
        flags = Flags(rest, {"no-select"}, {"stack", "secrets-provider", "copy-config-from"})
        stack = flags.values.get("stack") or (flags.positional[0] if flags.positional else "")
        if not stack:
            raise CliError("missing stack name")
        return init_stack(backend, stack, select=not flags.bools.get("no-select"))
    if sub == "ls":
        # pkg/cmd/pulumi/stack/stack_list.go (formatStackSummariesJSON, stackSummaryJSON): the
        # current project's stacks, sorted by name, each {name, current, lastUpdate?,
        # updateInProgress?, resourceCount?, url?}, the optional fields left out when unset.
        # On the DIY backend (pkg/backend/diy/stack.go, diyStackSummary): lastUpdate is the
        # latest deployment's manifest time and resourceCount its number of resources, both
        # unset while the checkpoint has no deployment, which is the case from `stack init`
        # (pkg/backend/diy/backend.go, CreateStack saves an empty deployment) until an update
        # writes one; updateInProgress is never printed (the DIY backend does not report
        # progress); names are bare (the project is the current one); no url.
        Flags(rest, {"json", "all"}, {"organization", "project", "tag"})
        summaries = []
        for name in backend.names():
            state = backend.load(name)
            summary: dict = {"name": name, "current": name == backend.current}
            if state["deployed"]:
                summary["lastUpdate"] = format_time(state["lastUpdate"])
                summary["resourceCount"] = len(state["resources"])
            summaries.append(summary)
        fprint_json(summaries)
        return EXIT_OK
    if sub == "history":
        # pkg/cmd/pulumi/stack/stack_history.go (updateInfoJSON), newest first, paged.
        flags = Flags(rest, {"json", "show-secrets", "full-dates"}, {"stack", "page-size", "page"})
        if flags.bools.get("show-secrets"):
            require_passphrase()
        state = backend.load(stack_of(flags, backend))
        size, page = int(flags.values.get("page-size", 10)), int(flags.values.get("page", 1))
        newest_first = list(reversed(state["history"]))
        fprint_json([history_json(u) for u in newest_first[(page - 1) * size : page * size]])
        return EXIT_OK
    if sub == "output":
        # pkg/cmd/pulumi/stack/stack_output.go (jsonStackOutputWriter): the outputs object.
        flags = Flags(rest, {"json", "show-secrets", "shell"}, {"stack"})
        if flags.bools.get("show-secrets"):
            require_passphrase()
        state = backend.load(stack_of(flags, backend))
        fprint_json(dict(sorted(state["outputs"].items())))
        return EXIT_OK
    if sub == "export":
        # pkg/cmd/pulumi/stack/stack_export.go: the latest checkpoint's UntypedDeployment,
        # written by a json.Encoder indented with four spaces (not ui.FprintJSON).
        flags = Flags(rest, {"show-secrets"}, {"stack", "file"})
        if "file" in flags.values:
            raise CliError("the stand-in prints the export; it writes no --file")
        stack = stack_of(flags, backend)
        document = export(backend, stack, backend.load(stack))
        sys.stdout.write(json.dumps(document, indent=4, ensure_ascii=False) + "\n")
        return EXIT_OK
    if sub == "rm":
        # pkg/cmd/pulumi/stack/stack_remove.go: --yes required (NonInteractiveRequiresYesError,
        # exit 1), refused while resources remain unless --force, removes Pulumi.<stack>.yaml
        # unless --preserve-config, prints "Stack 'S' has been removed!", unselects it.
        flags = Flags(rest, {"yes", "force", "preserve-config", "remove-backups"}, {"stack"})
        stack = flags.values.get("stack") or (flags.positional[0] if flags.positional else "")
        stack = stack or stack_of(flags, backend)
        state = backend.load(stack)
        if not flags.bools.get("yes"):
            raise CliError("non-interactive mode requires --yes flag")
        if state["resources"] and not flags.bools.get("force"):
            raise CliError(
                f"'{stack}' still has resources; removal rejected. Possible actions:\n"
                f"- Make sure that '{stack}' is the stack that you want to destroy\n"
                "- Run `pulumi destroy` to delete the resources, then run `pulumi stack rm`\n"
                "- Run `pulumi stack rm --force` to override this error"
            )
        backend.path(stack).unlink()
        if not flags.bools.get("preserve-config"):
            config_file(backend, stack).unlink(missing_ok=True)
        print(f"Stack '{stack}' has been removed!")
        backend.current = ""
        return EXIT_OK
    raise CliError(f"the stand-in does not answer `pulumi stack {sub}`")


def init_stack(backend: Backend, stack: str, select: bool = True) -> int:
    """pkg/cmd/pulumi/stack/io.go (InitStack) on the DIY backend (backend.go, CreateStack)."""
    if not STACK_NAME_RE.match(stack):
        # sdk/go/common/tokens/stack_name.go (ParseStackName)
        position = next(
            (i for i, ch in enumerate(stack) if not STACK_NAME_RE.match(ch)), len(stack) - 1
        )
        raise CliError(
            "a stack name may only contain alphanumeric, hyphens, underscores, or periods: "
            f"invalid character {json.dumps(stack[position])} at position {position}"
        )
    if backend.exists(stack):  # backenderr.StackAlreadyExistsError
        raise CliError(f"stack '{stack}' already exists")
    require_passphrase()
    # The checkpoint CreateStack saves holds no deployment: no lastUpdate, no resources.
    state = {"deployed": False, "lastUpdate": None, "resources": [], "outputs": {}, "history": []}
    backend.save(stack, state)
    document = read_config_file(backend, stack)
    document.setdefault("encryptionsalt", "v1:c3RhbmQtaW4=:v1:c3RhbmQtaW4=:c3RhbmQtaW4=")
    write_config_file(backend, stack, document)
    print(f"Created stack '{stack}'")
    if select:
        backend.current = stack
    return EXIT_OK


def export(backend: Backend, stack: str, state: dict) -> dict:
    """`stack export`: apitype.UntypedDeployment {version 3, deployment: DeploymentV3} with
    each resource as apitype.ResourceV3 (urn, custom, id, type, inputs, outputs, parent,
    protect), as the DIY backend serializes it (pkg/resource/stack/deployment.go). A mock
    engine's outputs are the inputs it was given plus the id."""
    project = backend.project
    by_name = {r["name"]: r for r in state["resources"]}

    def qualified(resource: dict) -> str:
        parent = by_name.get(resource.get("parent") or "")
        return (qualified(parent) + "$" if parent else "") + resource["type"]

    def urn(resource: dict) -> str:
        return f"urn:pulumi:{stack}::{project}::{qualified(resource)}::{resource['name']}"

    stack_urn = f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"
    resources = []
    for resource in state["resources"]:
        custom = "/" in resource["type"] or resource["type"].startswith("pulumi:providers:")
        entry: dict = {"urn": urn(resource), "custom": custom}
        inputs = resource.get("inputs") or {}
        if custom:
            entry["id"] = resource.get("id") or f"{resource['name']}_id"
        entry["type"] = resource["type"]
        if resource["type"] == "pulumi:pulumi:Stack":
            entry["outputs"] = dict(sorted(state["outputs"].items()))
        else:
            entry["inputs"] = inputs
            entry["outputs"] = resource.get("outputs", {**inputs, "id": entry.get("id")})
            parent = by_name.get(resource.get("parent") or "")
            entry["parent"] = urn(parent) if parent else stack_urn
        if resource.get("protect"):
            entry["protect"] = True
        resources.append(entry)
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": format_time(now()), "magic": "", "version": VERSION},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:c3RhbmQtaW4="}},
            "resources": resources,
        },
    }


def history_json(update: dict) -> dict:
    """One entry of `stack history --json`: updateInfoJSON (pkg/cmd/pulumi/stack/
    stack_history.go), fields in order, times in whole seconds."""
    return {
        "version": update["version"],
        "kind": update["kind"],
        "startTime": format_time(int(update["startTime"])),  # UpdateInfo keeps whole seconds
        "message": "",
        "environment": {"exec.kind": "auto.local"},
        "config": {
            key: {"value": value, "secret": False}
            for key, value in sorted(update["config"].items())
        },
        "result": update["result"],
        "endTime": format_time(int(update["endTime"])),
        "resourceChanges": update["resourceChanges"],
    }


def cmd_config(args: list[str]) -> int:
    """pkg/cmd/pulumi/config/config.go: `config --json` (listConfig, configValueJSON),
    `config set-all` (parseKeyValuePair in config/io.go), `config rm-all` (an alias of
    remove-all)."""
    backend = Backend(find_project())
    if args and args[0] in ("set-all", "rm-all"):
        sub, rest = args[0], args[1:]
        if sub == "set-all":
            flags = Flags(rest, {"path", "json"}, {"stack"}, {"plaintext", "secret"})
        else:
            flags = Flags(rest, {"path"}, {"stack"})
        stack = stack_of(flags, backend)
        backend.load(stack)
        require_passphrase()
        document = read_config_file(backend, stack)
        config = dict(document.get("config") or {})
        if sub == "set-all":
            if flags.multi["secret"]:
                raise CliError("the stand-in keeps no secrets")
            for pair in flags.multi["plaintext"]:
                key, eq, value = pair.partition("=")
                if not eq:
                    raise CliError("config value must be in the form [key]=[value]")
                config[full_key(key, backend.project)] = value
        else:
            for key in flags.positional:
                config.pop(full_key(key, backend.project), None)
        document["config"] = config
        write_config_file(backend, stack, document)
        return EXIT_OK
    flags = Flags(args, {"json", "show-secrets", "open"}, {"stack"})
    stack = stack_of(flags, backend)
    backend.load(stack)
    require_passphrase()
    if not flags.bools.get("json"):
        raise CliError("the stand-in answers `pulumi config` with --json only")
    config = flat_config(backend, stack)
    raw = read_config_file(backend, stack).get("config") or {}
    entries = {}
    for key, value in sorted(config.items()):
        entry: dict = {"secret": False, "value": value}
        if isinstance(raw.get(key), dict | list):  # an object value also comes parsed
            entry["objectValue"] = raw[key]
        entries[key] = entry
    fprint_json(entries)
    return EXIT_OK


def confirm_and_stack(args: list[str]) -> tuple[Backend, str, Flags]:
    """`up` and `destroy` (pkg/cmd/pulumi/operations/up.go, destroy.go): non-interactive needs
    --yes or --skip-preview (NoConfirmationInNonInteractiveError, exit 2)."""
    flags = Flags(
        args,
        {"yes", "skip-preview", "diff", "refresh", "preview-only", "suppress-outputs"},
        {"stack", "exec-kind", "message", "color", "parallel", "event-log", "client"},
    )
    if not (flags.bools.get("yes") or flags.bools.get("skip-preview")):
        raise CliError(
            "--yes or --skip-preview or --preview-only must be passed in to proceed when "
            "running in non-interactive mode",
            EXIT_USAGE,
        )
    if "event-log" in flags.values or "client" in flags.values:
        raise CliError("the stand-in does not serve --event-log or --client (gRPC)")
    backend = Backend(find_project())
    stack = stack_of(flags, backend)
    backend.load(stack)
    require_passphrase()
    return backend, stack, flags


def cmd_up(args: list[str]) -> int:
    """pkg/cmd/pulumi/operations/up.go on the DIY backend (backend.go, apply): the engine's
    snapshot manager writes the checkpoint as steps complete, so even an update whose
    program fails records a deployment (the stack resource registered before the failure),
    stamped now; a failed update exits 1."""
    backend, stack, _flags = confirm_and_stack(args)
    state = backend.load(stack)
    config = flat_config(backend, stack)
    start = now()
    print(f"Updating ({stack}):\n")
    try:
        resources, outputs = run_program(backend, stack, config)
    except Exception as exc:  # the program failed: the update fails, as with the real CLI
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"    pulumi:pulumi:Stack {backend.project}-{stack} running error: {message}")
        print(f"Diagnostics:\n  pulumi:pulumi:Stack ({backend.project}-{stack}):")
        print(f"    error: {message}\n\nResources:\n\nDuration: 1s\n")
        if not state["resources"]:
            state["resources"] = stack_resource(backend, stack)
        state["deployed"] = True
        record(backend, stack, state, "update", "failed", config, start, {})
        return EXIT_ERROR
    before = {(r["type"], r["name"]): r for r in state["resources"]}
    changes: dict[str, int] = {}
    for resource in resources:
        previous = before.pop((resource["type"], resource["name"]), None)
        op = "create" if previous is None else "same" if previous == resource else "update"
        changes[op] = changes.get(op, 0) + 1
        sign = {"create": "+", "update": "~", "same": " "}[op]
        verb = {"create": "created", "update": "updated", "same": ""}[op]
        print(f" {sign}  {resource['type']} {resource['name']} {verb}".rstrip())
    if before:
        changes["delete"] = len(before)
    print("\nOutputs:")
    for key, value in sorted(outputs.items()):
        print(f"    {key}: {json.dumps(value)}")
    print("\nResources:")
    for op, label in (
        ("create", "+ {} created"),
        ("update", "~ {} updated"),
        ("delete", "- {} deleted"),
    ):
        if changes.get(op):
            print("    " + label.format(changes[op]))
    if changes.get("same"):
        print(f"    {changes['same']} unchanged")
    print("\nDuration: 1s\n")
    state.update(resources=resources, outputs=outputs, deployed=True)
    record(backend, stack, state, "update", "succeeded", config, start, changes)
    return EXIT_OK


def run_program(backend: Backend, stack: str, config: dict[str, str]) -> tuple[list, dict]:
    """Run the project's program under the SDK's mock engine; resources as the engine counts
    them (the stack and the default gcp provider included) and the stack outputs."""
    document = yaml.safe_load((backend.project_dir / "Pulumi.yaml").read_text()) or {}
    main = backend.project_dir / str(document.get("main") or "")
    program = main / "__main__.py" if main.is_dir() else main
    sys.path.insert(0, str(backend.project_dir))
    from infra.program.offline_plan import run_program as run_under_mocks

    plan = run_under_mocks(stack, config, program)
    resources = [
        *stack_resource(backend, stack),
        {"type": "pulumi:providers:gcp", "name": "default", "inputs": {}},
    ] + [
        {
            "type": r.type,
            "name": r.name,
            "inputs": r.inputs,
            "parent": r.options.get("parent"),
            "protect": bool(r.options.get("protect")),
        }
        for r in plan.resources
    ]
    return resources, plan.outputs


def stack_resource(backend: Backend, stack: str) -> list[dict]:
    """The root resource every program registers first (the SDK's Stack)."""
    return [{"type": "pulumi:pulumi:Stack", "name": f"{backend.project}-{stack}", "inputs": {}}]


def cmd_destroy(args: list[str]) -> int:
    """pkg/cmd/pulumi/operations/destroy.go: deletes the state's resources (no program run),
    keeps the stack, its history and config, and says how to remove it."""
    backend, stack, _flags = confirm_and_stack(args)
    state = backend.load(stack)
    start = now()
    print(f"Destroying ({stack}):\n")
    for resource in reversed(state["resources"]):
        print(f" -  {resource['type']} {resource['name']} deleted")
    deleted = len(state["resources"])
    print(f"\nResources:\n    - {deleted} deleted\n\nDuration: 1s\n")
    print(
        "The resources in the stack have been deleted, but the history and configuration "
        "associated with the stack are still maintained. \nIf you want to remove the stack "
        f"completely, run `pulumi stack rm {stack}`."
    )
    state.update(resources=[], outputs={}, deployed=True)
    changes = {"delete": deleted} if deleted else {}
    record(
        backend, stack, state, "destroy", "succeeded", flat_config(backend, stack), start, changes
    )
    return EXIT_OK


def record(backend, stack, state, kind, result, config, start, changes) -> None:
    end = now()
    state["history"].append(
        {
            "version": len(state["history"]) + 1,
            "kind": kind,
            "startTime": start,
            "endTime": end,
            "config": config,
            "result": result,
            "resourceChanges": changes,
        }
    )
    state["lastUpdate"] = end
    backend.save(stack, state)


COMMANDS = {
    "version": cmd_version,
    "stack": cmd_stack,
    "config": cmd_config,
    "up": cmd_up,
    "update": cmd_up,
    "destroy": cmd_destroy,
}


def main(argv: list[str]) -> int:
    # --non-interactive is a global flag (pkg/cmd/pulumi/pulumi.go); the CLI prints a failed
    # command's error as "error: ..." on stderr and exits with ExitCodeFor's code.
    args = [a for a in argv if a != "--non-interactive"]
    if not args:
        raise CliError("the stand-in needs a subcommand")
    command = COMMANDS.get(args[0])
    if command is None:
        raise CliError(f"the stand-in does not answer `pulumi {args[0]}`")
    return command(args[1:])


def _log(argv: list[str], code: int) -> None:
    target = os.environ.get("NPQ_FAKE_PULUMI_LOG")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": argv, "exit": code}) + "\n")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    try:
        status = main(arguments)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        status = error.code
    _log(arguments, status)
    sys.exit(status)
