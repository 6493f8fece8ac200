"""Parser-level LaTeX checks shared by the report and proofs tests (no LaTeX engine needed)."""

import re


def check_balanced(text: str) -> str:
    """Balanced braces (escaped ones ignored), matching environments, paired $ per paragraph.

    Returns the text with escaped characters removed, for further checks.
    """
    stripped = re.sub(r"\\[{}$%&#_]", "", text)
    depth = 0
    for c in stripped:
        depth += {"{": 1, "}": -1}.get(c, 0)
        assert depth >= 0, "a '}' closes nothing"
    assert depth == 0, "unbalanced braces"
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", stripped):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, f"\\end{{{name}}} without its \\begin"
    assert not stack, f"unclosed environments {stack}"
    for paragraph in stripped.split("\n\n"):
        assert paragraph.count("$") % 2 == 0, f"odd number of $ in: {paragraph[:200]}"
    return stripped
