"""Deterministic sample exports of one fictional tenant, in every format msgtrace reads.

``python -m tools.samples [FOLDER]`` (from a checkout) writes three days of Contoso's mail
(Monday 16 to Wednesday 18 November 2026, UTC; about 60 messages) into every export format
and encoding an investigator meets, by default into the repository's ``samples/``. The same
messages appear in several files, as when an investigator downloads a summary, an enhanced
summary and an extended report of the same period: ids, times and addresses agree across
formats. ``tests/test_samples.py`` checks that the committed ``samples/`` equal a fresh run.

The scenario is data, ``scenario.toml``: the tenant and its mailboxes, its partners, the
incidents (each with its ids and its story in a comment), the outbound burst, the background
traffic, the on-premises server's messages and the list of files. The code interprets it:

- ``model``: typed records of the TOML, checked as they are read; the built ``Message``.
- ``traffic``: the messages, every value a record leaves out drawn from one seeded stream.
- ``transport``: what Exchange Online records of each message (its transport events, the
  extended report's rows) and each recipient's final status.
- ``writers/``: one function per export, registered by name; the files name their writer.
- ``folder``: builds the world once, renders, encodes and writes every file and README.md.

Output is byte-for-byte deterministic: one seeded ``random.Random``, never the wall clock.
Draws follow the records' order, so editing the data changes most files: regenerate and
commit them.

To add an export format (a new table of Defender's, another PowerShell cmdlet, another
collector's JSON...):

1. Write ``writers/<family>.py`` with a function decorated ``@writer("<name>")`` taking the
   world and its options as keyword arguments and returning the file's text (or, for an
   archive, its bytes: render and encode the members with ``writers.render`` and
   ``writers.encode``, as ``writers/archives.py`` does). Build on the shared views rather
   than re-deriving them: ``transport.status_rows`` (one row per message x recipient, as
   every trace export has), ``Message.events`` (the transport events), the row builders of
   an existing writer module (Defender's, the tracking log's, Get-MessageTraceDetail's
   ``DETAILS``). Any file can also be handed over compressed: the writers ``zip_archive``
   and ``gzip_file`` take another writer and its options as their member.
2. Add a ``[[file]]`` to scenario.toml: name, the msgtrace ``format`` it must be read as,
   encoding, bom, writer, options, and ``shows`` (its line in samples/README.md). If the
   format needs facts the data does not hold yet, add them to the records it concerns.
3. Run ``python -m tools.samples`` and commit samples/; the tests check every file loads as
   its format with no rejected row.

No other module changes: the writer registers itself where it is defined.
"""

from .folder import DEFAULT_FOLDER, README, build_world, write_samples
from .model import SCENARIO_FILE, load_scenario

__all__ = [
    "DEFAULT_FOLDER",
    "README",
    "SCENARIO_FILE",
    "build_world",
    "load_scenario",
    "write_samples",
]
