#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Every program a test runs is declared in scripts/deps.txt, the one list of
what scripts/setup-deps.sh installs, and the scripts that run one check for it
with `require` (tests/lib/require.sh) before they use it.

Reads the shell scripts of tests/ and the two README commands
(scripts/test.sh, scripts/run.sh), finds the words in command position
(after `;`, `|`, `&&`, `$(`, `then`, ...; behind `timeout`, `runuser --`,
`ip netns exec NS`, `command -v`, and in `trap`/`bash -c` strings), and
reports:
  - a program that no package of scripts/deps.txt lists;
  - a program from a package outside [essential] that the script does not
    `require` (the Essential packages are on every Debian system, so their
    programs need only be listed);
  - a `require` of a program that scripts/deps.txt does not list;
  - a find_program() of meson.build for a program it does not list;
  - Python (test files, and the Python here-documents of the scripts) that
    starts programs itself, where no `require` can see them.
The reading is a heuristic lexer, not a shell: it errs towards missing a use,
never towards inventing one.

    deps_declared.py SOURCE_ROOT [--list]

--list prints, for each script, the programs found, and exits 0.
"""
import os
import re
import sys

BUILTINS = set("""
. : [ alias bg bind break builtin caller cd command compgen complete compopt
continue declare dirs disown echo enable eval exec exit export false fc fg
getopts hash help history jobs kill let local logout mapfile popd printf pushd
pwd read readarray readonly return set shift shopt source suspend test times
trap true type typeset ulimit umask unalias unset wait
""".split())
KEYWORDS = set("""
if then else elif fi case esac for select while until do done in function
time { } ! [[ ]] coproc
""".split())
# After these words the next word is a command again.
CMD_AFTER = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "time"}
ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
PY_SPAWN = re.compile(r"\b(subprocess\.|os\.system|os\.popen|os\.exec|os\.spawn|pty\.spawn)")


class Word:
    def __init__(self, text, plain, line, substs, literal=None):
        self.text = text  # as written
        self.plain = plain  # no quote, no expansion
        self.line = line
        self.substs = substs  # [(text, line)] of $(...), `...`, <(...) inside
        self.literal = literal  # the string of a word that is one quoted string


class Op:
    def __init__(self, text, line):
        self.text = text
        self.line = line


def match_paren(s, i):
    """s[i] is just after an opening '('; returns the index of the matching ')'."""
    depth = 1
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            j = s.find("'", i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == '"':
            i = skip_dquote(s, i + 1)
            continue
        if c == "#" and (i == 0 or s[i - 1] in " \t\n;"):
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return n


def skip_dquote(s, i):
    """s[i] is just after an opening '"'; returns the index after the closing one."""
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        if s.startswith("$(", i):
            i = match_paren(s, i + 2) + 1
            continue
        if c == "`":
            j = s.find("`", i + 1)
            i = n if j < 0 else j + 1
            continue
        i += 1
    return n


def substs_in(s, base_line):
    """Command substitutions in a string where quotes do not count (double
    quoted text, arithmetic, unquoted here-documents)."""
    out = []
    i = 0
    n = len(s)
    while i < n:
        if s[i] == "\\":
            i += 2
            continue
        if s.startswith("$((", i):
            end = match_paren(s, i + 2)
            out += substs_in(s[i + 3:end], base_line + s.count("\n", 0, i))
            i = end + 1
            continue
        if s.startswith("$(", i):
            end = match_paren(s, i + 2)
            out.append((s[i + 2:end], base_line + s.count("\n", 0, i)))
            i = end + 1
            continue
        if s[i] == "`":
            j = s.find("`", i + 1)
            j = n if j < 0 else j
            out.append((s[i + 1:j], base_line + s.count("\n", 0, i)))
            i = j + 1
            continue
        i += 1
    return out


def tokenize(s, base_line):
    """Words and operators of a shell text; here-document bodies are dropped
    (their command substitutions kept when the delimiter is unquoted) and
    returned apart as (command line, body, quoted)."""
    toks = []
    heredocs = []
    pending = []  # (delimiter, strip_tabs, quoted, line)
    i = 0
    n = len(s)
    line = base_line
    ops = ["&&", "||", ";;&", ";;", ";&", "<<<", "<<-", "<<", ">>", "<&", ">&", "&>>", "&>",
           "<>", ">|", "|&", "<(", ">(", ";", "&", "|", "(", ")", "<", ">", "\n"]
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] == "\n":
            i += 2
            line += 1
            continue
        if c in " \t":
            i += 1
            continue
        if c == "#":
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        op = next((o for o in ops if s.startswith(o, i)), None)
        if op:
            if op in ("<(", ">("):
                end = match_paren(s, i + 2)
                toks.append(Word(s[i:end + 1], False, line, [(s[i + 2:end], line)]))
                line += s.count("\n", i, end + 1)
                i = end + 1
                continue
            toks.append(Op(op, line))
            i += len(op)
            if op == "\n":
                line += 1
                for delim, strip, quoted, hline in pending:
                    body = []
                    while i < n:
                        j = s.find("\n", i)
                        j = n if j < 0 else j
                        text = s[i:j]
                        i = j + 1
                        line += 1
                        if (text.lstrip("\t") if strip else text) == delim:
                            break
                        body.append(text)
                    body = "\n".join(body)
                    heredocs.append((hline, body, quoted))
                    if not quoted:
                        for sub, sl in substs_in(body, hline + 1):
                            toks.append(Word("", False, sl, [(sub, sl)]))
                pending = []
            elif op in ("<<", "<<-"):
                # the delimiter word follows
                m = re.compile(r"[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1").match(s, i)
                if m:
                    pending.append((m.group(2), op == "<<-", bool(m.group(1)), line))
                    i = m.end()
            continue
        # a word
        start = i
        plain = True
        substs = []
        parts = []
        literal = None
        while i < n:
            c = s[i]
            if c in " \t\n;&|()<>":
                break
            if c == "\\":
                plain = False
                parts.append(s[i + 1:i + 2])
                i += 2
                continue
            if c == "'":
                plain = False
                j = s.find("'", i + 1)
                j = n if j < 0 else j
                parts.append(s[i + 1:j])
                i = j + 1
                continue
            if c == '"':
                plain = False
                end = skip_dquote(s, i + 1)
                parts.append(s[i + 1:end - 1])
                substs += substs_in(s[i + 1:end - 1], line + s.count("\n", start, i))
                i = end
                continue
            if s.startswith("$'", i):
                plain = False
                j = i + 2
                while j < n and s[j] != "'":
                    j += 2 if s[j] == "\\" else 1
                i = j + 1
                continue
            if s.startswith("$((", i):
                plain = False
                end = match_paren(s, i + 2)
                substs += substs_in(s[i + 3:end], line)
                i = end + 2 if end + 1 < n and s[end + 1] == ")" else end + 1
                continue
            if s.startswith("$(", i):
                plain = False
                end = match_paren(s, i + 2)
                substs.append((s[i + 2:end], line + s.count("\n", start, i)))
                i = end + 1
                continue
            if s.startswith("${", i):
                plain = False
                depth = 0
                j = i + 1
                while j < n:
                    if s[j] == "{":
                        depth += 1
                    elif s[j] == "}":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                substs += substs_in(s[i + 2:j], line)
                i = j + 1
                continue
            if c == "`":
                plain = False
                j = s.find("`", i + 1)
                j = n if j < 0 else j
                substs.append((s[i + 1:j], line))
                i = j + 1
                continue
            if c == "$":
                plain = False
            parts.append(c)
            i += 1
        text = s[start:i]
        if text[:1] in ("'", '"') and text[-1:] == text[:1] and len(text) >= 2:
            literal = "".join(parts)
        # an io number: 2>file
        if text.isdigit() and i < n and s[i] in "<>":
            continue
        toks.append(Word(text, plain, line, substs, literal))
        line += s.count("\n", start, i)
    return toks, heredocs


def commands(s, base_line, funcs, out, heredocs_out, depth=0):
    """Appends (program, line) for every command word of the shell text s."""
    if depth > 20:
        return
    toks, heredocs = tokenize(s, base_line)
    heredocs_out += heredocs
    # function names defined here
    for k in range(len(toks) - 2):
        a, b, c = toks[k], toks[k + 1], toks[k + 2]
        if isinstance(a, Word) and a.plain and isinstance(b, Op) and b.text == "(" \
                and isinstance(c, Op) and c.text == ")":
            funcs.add(a.text)
    state = "cmd"  # cmd | arg | skip_test | skip_arith | for | case_word | pattern
    wrapper = None  # (name, step) while reading a wrapper's own arguments
    case_depth = 0
    k = 0
    while k < len(toks):
        t = toks[k]
        k += 1
        if isinstance(t, Word):
            for sub, sl in t.substs:
                commands(sub, sl, funcs, out, heredocs_out, depth + 1)
        if state == "skip_test":
            if isinstance(t, Word) and t.text == "]]":
                state = "arg"
            continue
        if state == "for":
            if isinstance(t, Word) and t.text == "do":
                state = "cmd"
            continue
        if state == "case_word":
            if isinstance(t, Word) and t.text == "in":
                state = "pattern"
            continue
        if state == "pattern":
            if isinstance(t, Word) and t.text == "esac":
                case_depth -= 1
                state = "arg"
            elif isinstance(t, Op) and t.text == ")":
                state = "cmd"
            continue
        if isinstance(t, Op):
            if t.text in (";;", ";&", ";;&") and case_depth > 0:
                state = "pattern"
            elif t.text in ("<", ">", ">>", "<&", ">&", "&>", "&>>", "<>", ">|", "<<<"):
                # the redirection's target is no command
                if k < len(toks) and isinstance(toks[k], Word):
                    for sub, sl in toks[k].substs:
                        commands(sub, sl, funcs, out, heredocs_out, depth + 1)
                    k += 1
            elif t.text in ("<<", "<<-"):
                pass
            elif t.text == "(" and k < len(toks) and isinstance(toks[k], Op) and toks[k].text == "(":
                # (( arithmetic ))
                k += 1
                while k < len(toks) and not (isinstance(toks[k], Op) and toks[k].text == ")"):
                    k += 1
                k += 2
                state = "arg"
            elif t.text == ")":
                # name() { body }: the body's first word is a command
                prev = toks[k - 2] if k >= 2 else None
                name = toks[k - 3] if k >= 3 else None
                state = "cmd" if isinstance(prev, Op) and prev.text == "(" \
                    and isinstance(name, Word) and name.plain \
                    and not name.text.endswith("=") else "arg"
            else:
                state = "cmd"
            wrapper = None
            continue
        # a word
        if state != "cmd":
            if wrapper:
                state, wrapper = wrapper_step(wrapper, t, state)
                if state != "cmd":
                    continue
            else:
                continue
        # command position
        if ASSIGN.match(t.text):
            if t.text.endswith("=") and k < len(toks) and isinstance(toks[k], Op) \
                    and toks[k].text == "(":
                # an array: name=( words )
                k += 1
                while k < len(toks) and not (isinstance(toks[k], Op) and toks[k].text == ")"):
                    if isinstance(toks[k], Word):
                        for sub, sl in toks[k].substs:
                            commands(sub, sl, funcs, out, heredocs_out, depth + 1)
                    k += 1
                k += 1
            continue
        if t.text == "[[":
            state = "skip_test"
            continue
        if t.text in ("for", "select"):
            state = "for"
            continue
        if t.text == "case":
            case_depth += 1
            state = "case_word"
            continue
        if t.text in CMD_AFTER:
            continue
        if t.text in KEYWORDS:
            state = "arg"
            continue
        state = "arg"
        if not t.plain:
            if t.literal is None:
                continue
            name = t.literal
        else:
            name = t.text
        if "$" in name:
            continue  # a variable: the project's own programs, given by meson
        if "/" in name:
            # build/... or ./x: the project's own; /usr/bin/x: a program
            if not name.startswith(("/usr/", "/bin/", "/sbin/")):
                continue
            name = os.path.basename(name)
        if not NAME.match(name):
            continue
        if name in funcs and name not in ("require",):
            continue
        if name in BUILTINS:
            if name in ("exec", "command", "builtin"):
                wrapper = ("plain", 0)
            elif name == "trap" and k < len(toks) and isinstance(toks[k], Word) \
                    and toks[k].literal is not None:
                commands(toks[k].literal, toks[k].line, funcs, out, heredocs_out, depth + 1)
            continue
        if name in ("require",):
            out.append(("=require", t.line, [w.text for w in words_until_op(toks, k)]))
            continue
        out.append((name, t.line, None))
        if name in ("timeout", "runuser", "nohup", "env", "sudo", "nice", "xargs", "ip"):
            wrapper = (name, 0)
        elif name in ("bash", "sh") and k + 1 < len(toks) and isinstance(toks[k], Word) \
                and toks[k].text == "-c" and isinstance(toks[k + 1], Word) \
                and toks[k + 1].literal is not None:
            commands(toks[k + 1].literal, toks[k + 1].line, funcs, out, heredocs_out, depth + 1)
    return


def words_until_op(toks, k):
    out = []
    while k < len(toks) and isinstance(toks[k], Word):
        out.append(toks[k])
        k += 1
    return out


def wrapper_step(wrapper, t, state):
    """Reads one argument word of a program that runs another program;
    returns the new state ("cmd" when t is that program) and wrapper."""
    name, step = wrapper
    text = t.text
    if name == "plain":  # exec, command [-v], nohup, nice, xargs, sudo
        if text.startswith("-"):
            return "arg", wrapper
        return "cmd", None
    if name in ("nohup", "xargs", "sudo", "nice"):
        if text.startswith("-"):
            return "arg", wrapper
        return "cmd", None
    if name == "env":
        if text.startswith("-") or ASSIGN.match(text):
            return "arg", wrapper
        return "cmd", None
    if name == "timeout":
        if step == "value":
            return "arg", ("timeout", 0)
        if text in ("-k", "-s", "--kill-after", "--signal"):
            return "arg", ("timeout", "value")
        if text.startswith("-"):
            return "arg", wrapper
        if step == 0:
            return "arg", ("timeout", 1)  # the duration
        return "cmd", None
    if name == "runuser":
        if step == "value":
            return "arg", ("runuser", 0)
        if step == "cmd":
            return "cmd", None
        if text == "--":
            return "arg", ("runuser", "cmd")
        if text in ("-u", "-g", "-G", "-s", "-w", "--user", "--group", "--shell"):
            return "arg", ("runuser", "value")
        if text.startswith("-"):
            return "arg", wrapper
        return "cmd", None
    if name == "ip":
        # ip netns exec NS COMMAND
        want = {0: "netns", 1: "exec"}
        if step in want:
            return ("arg", ("ip", step + 1)) if text == want[step] else ("arg", None)
        if step == 2:
            return "arg", ("ip", 3)  # the namespace
        return "cmd", None
    return "arg", None


def read_deps(path):
    """{program: (package, essential)}, [problems]"""
    progs = {}
    problems = []
    section = None
    pkg = None
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if raw[:1] in " \t":
                # more programs of the package above
                if pkg is None:
                    problems.append(f"{path}:{no}: a continued line without a package")
                    continue
                for p in line.split():
                    if p in progs:
                        problems.append(f"{path}:{no}: {p} listed twice")
                    progs[p] = (pkg, section == "essential")
                continue
            m = re.match(r"^\[(\w+)\]$", line)
            if m:
                section = m.group(1)
                if section not in ("essential", "install"):
                    problems.append(f"{path}:{no}: unknown section [{section}]")
                continue
            if section is None:
                problems.append(f"{path}:{no}: package before a [section]")
                continue
            pkg, *ps = line.split()
            for p in ps:
                if p in progs:
                    problems.append(f"{path}:{no}: {p} listed twice ({progs[p][0]}, {pkg})")
                progs[p] = (pkg, section == "essential")
    return progs, problems


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    listing = "--list" in sys.argv[1:]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    root = args[0]
    deps_path = os.path.join(root, "scripts/deps.txt")
    declared, problems = read_deps(deps_path)

    scripts = ["scripts/test.sh", "scripts/run.sh"]
    pyfiles = []
    mesons = ["meson.build"]
    for d, _, files in os.walk(os.path.join(root, "tests")):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), root)
            if "/corpus/" in rel or rel.startswith("tests/lib/"):
                continue
            if f.endswith(".sh"):
                scripts.append(rel)
            elif f.endswith(".py"):
                pyfiles.append(rel)
            elif f == "meson.build":
                mesons.append(rel)
    for d in ("ebpf", "tools", "perf", "dataplane", "control", "ledger", "common"):
        p = os.path.join(d, "meson.build")
        if os.path.exists(os.path.join(root, p)):
            mesons.append(p)

    for rel in sorted(scripts):
        text = open(os.path.join(root, rel)).read()
        funcs = set(re.findall(r"(?m)^\s*([A-Za-z_][\w-]*)\s*\(\)", text))
        # Functions of the test libraries the script sources (". .../lib/x.sh").
        for lib in re.findall(r"(?m)^\s*(?:\.|source)\s+[^\n]*?/lib/([\w.-]+\.sh)", text):
            lib_path = os.path.join(root, "tests/lib", lib)
            if os.path.exists(lib_path):
                funcs |= set(re.findall(r"(?m)^\s*([A-Za-z_][\w-]*)\s*\(\)",
                                        open(lib_path).read()))
        found = []
        heredocs = []
        commands(text, 1, funcs, found, heredocs)
        required = set()
        for prog, line, words in found:
            if prog == "=require":
                for w in words:
                    required.add(w)
                    if w not in declared:
                        problems.append(f"{rel}:{line}: require {w}: no package of "
                                        f"scripts/deps.txt lists it")
        used = {}
        for prog, line, _ in found:
            if prog != "=require":
                used.setdefault(prog, line)
        if listing:
            print(f"{rel}: {' '.join(sorted(used))}")
        for prog, line in sorted(used.items(), key=lambda x: x[1]):
            if prog not in declared:
                problems.append(f"{rel}:{line}: {prog}: no package of scripts/deps.txt lists "
                                f"it (add the Debian package that provides it, with {prog})")
            elif not declared[prog][1] and prog not in required:
                problems.append(f"{rel}:{line}: {prog} (package {declared[prog][0]}) is run "
                                f"without `require {prog}` (tests/lib/require.sh)")
        for hline, body, _ in heredocs:
            m = PY_SPAWN.search(body)
            if m:
                problems.append(f"{rel}:{hline}: a here-document starts programs from Python "
                                f"({m.group(1)}): run them from the script, after require")
    for rel in sorted(pyfiles):
        for no, line in enumerate(open(os.path.join(root, rel)), 1):
            m = PY_SPAWN.search(line.split("#", 1)[0])
            if m:
                problems.append(f"{rel}:{no}: starts programs from Python ({m.group(1)}): "
                                f"run them from the calling script, after require")
    for rel in mesons:
        text = open(os.path.join(root, rel)).read()
        for m in re.finditer(r"find_program\(\s*'([^']+)'", text):
            name = m.group(1)
            if name.endswith((".sh", ".py")):
                continue
            if name not in declared:
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{rel}:{line}: find_program('{name}'): no package of "
                                f"scripts/deps.txt lists it")
    if listing:
        return 0
    for p in problems:
        print("FAIL:", p)
    print(f"{len(scripts)} scripts, {len(pyfiles)} Python files and {len(mesons)} meson.build "
          f"files checked against scripts/deps.txt ({len(declared)} programs): "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
