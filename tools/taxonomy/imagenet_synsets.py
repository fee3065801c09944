#!/usr/bin/env python3
"""List the ImageNet-1k classes with their WordNet 3.0 hypernym chains, and check the curated mapping.

The 1000 classes of an ImageNet classifier are WordNet noun synsets (``n02110063`` is offset 02110063 in
``data.noun``). This script prints every class with its names, its hypernym chain (nearest first) and,
with ``--gloss``, the WordNet definition: the material to decide which product label a class belongs to.
The decisions themselves live in the ``synsets`` section of ``taxonomy.json``; ``--check`` verifies that
section against ``synset_words.txt`` and the ``labels`` section.

Standard library only. Usage:

    python3 tools/taxonomy/imagenet_synsets.py [--gloss] [--all-paths]
    python3 tools/taxonomy/imagenet_synsets.py --check [TAXONOMY_JSON]
    python3 tools/taxonomy/imagenet_synsets.py --by-label [TAXONOMY_JSON]
"""

import argparse
import collections
import json
import os
import re
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA_NOUN = "/usr/share/wordnet/data.noun"  # Debian package wordnet-base (WordNet 3.0)
# The shared models folder sits beside the checkout, as for the tests (TestData.ModelsFolder).
DEFAULT_SYNSET_WORDS = os.path.join(os.path.dirname(REPOSITORY), "shared", "models", "mobilenetv2-int8", "synset_words.txt")
DEFAULT_TAXONOMY = os.path.join(REPOSITORY, "src", "LabelLens.Core", "Taxonomy", "taxonomy.json")


class Synset:
    __slots__ = ("offset", "words", "hypernyms", "gloss")

    def __init__(self, offset, words, hypernyms, gloss):
        self.offset = offset
        self.words = words
        self.hypernyms = hypernyms
        self.gloss = gloss


def read_data_noun(path):
    """Parse WordNet's data.noun: offset -> Synset (words, hypernym offsets incl. instance hypernyms, gloss)."""
    synsets = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  "):  # licence header
                continue
            data, _, gloss = line.partition(" | ")
            fields = data.split()
            offset = fields[0]
            word_count = int(fields[3], 16)
            words = [fields[4 + 2 * i].replace("_", " ") for i in range(word_count)]
            i = 4 + 2 * word_count
            pointer_count = int(fields[i])
            i += 1
            hypernyms = []
            for _ in range(pointer_count):
                symbol, target, pos = fields[i], fields[i + 1], fields[i + 2]
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append(target)
                i += 4
            synsets[offset] = Synset(offset, words, hypernyms, gloss.strip())
    return synsets


def read_synset_words(path):
    """The classifier's classes in index order: list of (wnid, [names])."""
    classes = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            wnid, _, names = line.partition(" ")
            classes.append((wnid, [n.strip() for n in names.split(",")]))
    return classes


def hypernym_paths(synsets, offset):
    """Every hypernym path from the synset up to the root (entity), nearest first."""
    parents = synsets[offset].hypernyms
    if not parents:
        return [[]]
    paths = []
    for parent in parents:
        for rest in hypernym_paths(synsets, parent):
            paths.append([parent] + rest)
    return paths


def name(synsets, offset):
    return synsets[offset].words[0]


def print_classes(synsets, classes, gloss, all_paths):
    for index, (wnid, names) in enumerate(classes):
        offset = wnid[1:]
        print(f"{index:4d} {wnid} {', '.join(names)}")
        paths = hypernym_paths(synsets, offset)
        for path in paths if all_paths else paths[:1]:
            print("       < " + " < ".join(name(synsets, p) for p in path))
        if gloss:
            print("       : " + synsets[offset].gloss)


def load_taxonomy(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def ancestors(labels, label):
    seen, queue = [], list(labels[label].get("parents", []))
    while queue:
        parent = queue.pop(0)
        if parent == label:
            raise ValueError(f"label '{label}' is its own ancestor")
        if parent in seen or parent not in labels:
            continue
        seen.append(parent)
        queue.extend(labels[parent].get("parents", []))
    return seen


MINOR_WORDS = {"a", "an", "and", "as", "at", "des", "for", "in", "of", "on", "or", "the", "to"}


def title_case_problem(name):
    """Why a label or alias is not in Title Case ("Alaskan Malamute", "Bird of Prey", "Jack-O'-Lantern"), or None."""
    if name != name.strip() or "  " in name or not name:
        return "has stray spaces"
    for word in re.split(r"[ -]", name):
        if not word or word[0].isupper() or word[0].isdigit() or word in MINOR_WORDS:
            continue
        if re.match(r"^[a-z]+[A-Z]", word):  # a brand such as iPod
            continue
        return f"word '{word}' is not capitalized"
    if name.split(" ")[0] in MINOR_WORDS:
        return "starts with a minor word"
    return None


def check(taxonomy_path, classes):
    """Report problems of the taxonomy and its synsets section; the exit code is the number of problems (capped)."""
    taxonomy = load_taxonomy(taxonomy_path)
    labels = taxonomy.get("labels", {})
    mapped = taxonomy.get("synsets", {})
    known = {wnid for wnid, _ in classes}
    problems = []
    for wnid, names in classes:
        if wnid not in mapped:
            problems.append(f"unmapped: {wnid} {', '.join(names)}")
    for label, definition in labels.items():
        if not definition.get("categories"):
            problems.append(f"label '{label}' has no category")
        for parent in definition.get("parents", []):
            if parent not in labels:
                problems.append(f"label '{label}' names an unknown parent '{parent}'")
        try:
            ancestors(labels, label)
        except ValueError as error:
            problems.append(str(error))
        for name in [label] + definition.get("aliases", []):
            why = title_case_problem(name)
            if why:
                problems.append(f"label '{label}': '{name}' {why}")

    # A search term resolves to one label (label names first, then aliases, case-insensitive): an alias must not be
    # another label's name, nor an alias of two labels.
    names = {label.lower(): label for label in labels}
    alias_of = {}
    for label, definition in labels.items():
        for alias in definition.get("aliases", []):
            if alias.lower() in names:
                problems.append(f"alias '{alias}' of label '{label}' is the name of label '{names[alias.lower()]}'")
            elif alias_of.setdefault(alias.lower(), label) != label:
                problems.append(f"alias '{alias}' belongs to labels '{alias_of[alias.lower()]}' and '{label}'")
    for wnid, entry in mapped.items():
        label, alias = entry.get("label"), entry.get("alias")
        if wnid not in known:
            problems.append(f"not a class of the classifier: {wnid}")
        if label not in labels:
            problems.append(f"{wnid}: undefined label '{label}'")
        if alias is None:
            continue
        why = title_case_problem(alias)
        if why:
            problems.append(f"{wnid}: alias '{alias}' {why}")
        if alias.lower() in names:
            problems.append(f"{wnid}: alias '{alias}' is the name of label '{names[alias.lower()]}'")
        elif alias_of.setdefault(alias.lower(), label) != label:
            problems.append(f"{wnid}: alias '{alias}' of '{label}' already means label '{alias_of[alias.lower()]}'")

    # Every label is used: by a detector class, a synset, or as an ancestor of one.
    used = set(taxonomy.get("classes", {}).values()) | {entry.get("label") for entry in mapped.values()}
    reachable = set(used)
    for label in used:
        if label in labels:
            reachable.update(ancestors(labels, label))
    for label in labels:
        if label not in reachable:
            problems.append(f"label '{label}' is used by no class and is no ancestor of a used label")

    for problem in problems:
        print(problem)
    targets = {entry.get("label") for entry in mapped.values()}
    sys.stdout.flush()
    print(f"{len(mapped)} synsets mapped onto {len(targets)} labels; {len(labels)} labels in all; {len(problems)} problem(s)", file=sys.stderr)
    return min(len(problems), 100)


def by_label(taxonomy_path, classes):
    """The mapping grouped by label, with each label's ancestors, to review it."""
    taxonomy = load_taxonomy(taxonomy_path)
    labels = taxonomy.get("labels", {})
    mapped = taxonomy.get("synsets", {})
    names = dict(classes)
    groups = collections.defaultdict(list)
    for wnid, _ in classes:
        entry = mapped.get(wnid)
        if entry:
            groups[entry["label"]].append((wnid, entry.get("alias")))
    for label in sorted(groups):
        chain = " < ".join(ancestors(labels, label)) if label in labels else "?"
        categories = ", ".join(labels.get(label, {}).get("categories", []))
        print(f"{label} ({len(groups[label])}) < {chain}  [{categories}]")
        for wnid, alias in groups[label]:
            print(f"    {wnid} {alias or '-':30s} {names[wnid][0]}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-noun", default=DEFAULT_DATA_NOUN, help="WordNet 3.0 data.noun (default: %(default)s)")
    parser.add_argument("--synset-words", default=DEFAULT_SYNSET_WORDS, help="the classifier's synset_words.txt (default: %(default)s)")
    parser.add_argument("--gloss", action="store_true", help="print each class's WordNet definition")
    parser.add_argument("--all-paths", action="store_true", help="print every hypernym path, not just the first")
    parser.add_argument("--check", metavar="TAXONOMY_JSON", nargs="?", const=DEFAULT_TAXONOMY,
                        help="check a taxonomy file (default: the built-in one): every class mapped, labels defined, "
                        "no cycles, a category each, Title Case, aliases unambiguous, no unused label")
    parser.add_argument("--by-label", metavar="TAXONOMY_JSON", nargs="?", const=DEFAULT_TAXONOMY,
                        help="print the mapping of a taxonomy file (default: the built-in one) grouped by label")
    args = parser.parse_args()

    classes = read_synset_words(args.synset_words)
    if args.check:
        return check(args.check, classes)
    if args.by_label:
        return by_label(args.by_label, classes)
    print_classes(read_data_noun(args.data_noun), classes, args.gloss, args.all_paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
