"""Rows -> canonical events: one row per event per recipient, statuses, codes, verdicts and
directions as a user reads them, and event keys that merge the same event seen twice."""

from __future__ import annotations

import pyarrow as pa
import pytest
from exports import extended_csv, extended_row, write_export
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.ingest import load_sources
from analyzer.normalize import event_keys, parse_custom_data

NOT_FOUND = "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"


def load_rows(tmp_path, *rows: str):
    return load_sources([write_export(tmp_path, "extended.csv", extended_csv(*rows))])


def per_recipient(case) -> list[tuple]:
    columns = ["line", "recipient_address", "recipient_status", "smtp_reply_code", "status_code"]
    return [tuple(r.values()) for r in case.events.select(columns).to_pylist()]


# ---------------------------------------------------------------- status codes


@pytest.mark.parametrize(
    ("reply", "code", "reply_code"),
    [
        ("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", "5.1.1", 550),
        ("451 4.4.0 Primary target IP address responded with: 421 4.4.2 timeout", "4.4.0", 451),
        ("550 5.7.606 Access denied, banned sending IP [192.0.2.1]", "5.7.606", 550),
        ("250 2.6.0 <m@x> Queued mail for delivery.", "2.6.0", 250),
        ("Rejected: 5.1.1.", "5.1.1", None),
        ("To", None, None),
        ("version 10.5.1.2 installed", None, None),
    ],
)
def test_the_enhanced_status_code_is_read_from_the_reply(tmp_path, reply, code, reply_code):
    case = load_rows(tmp_path, extended_row(event_id="FAIL", recipient_status=reply))

    assert per_recipient(case)[0][2:] == (reply, reply_code, code)


# ---------------------------------------------------------------- recipients


def test_a_tracking_row_for_two_recipients_becomes_two_rows_with_their_own_status(tmp_path):
    case = load_rows(
        tmp_path,
        extended_row(recipient_address="a@contoso.com;b@contoso.com", recipient_status="To;Cc"),
        extended_row(
            event_id="DELIVER",
            recipient_address="a@contoso.com;b@contoso.com",
            recipient_status=f"250 2.1.5 Recipient OK;{NOT_FOUND}",
        ),
    )

    assert per_recipient(case) == [
        (2, "a@contoso.com", "To", None, None),
        (2, "b@contoso.com", "Cc", None, None),
        (3, "a@contoso.com", "250 2.1.5 Recipient OK", 250, "2.1.5"),
        (3, "b@contoso.com", NOT_FOUND, 550, "5.1.1"),
    ]
    assert case.inputs[0].rows_read == 2


@pytest.mark.parametrize(
    "statuses",
    [["To", "To", "To"], ["To", "Cc", "To", "Bcc"], ["Cc", "Cc", "Cc"], ["To", "To"]],
    ids=";".join,
)
def test_every_recipient_of_a_receive_row_gets_its_own_to_cc_bcc(tmp_path, statuses):
    recipients = [f"user{k}@contoso.com" for k in range(len(statuses))]
    case = load_rows(
        tmp_path,
        extended_row(recipient_address=";".join(recipients), recipient_status=";".join(statuses)),
    )

    assert per_recipient(case) == [
        (2, address, status, None, None)
        for address, status in zip(recipients, statuses, strict=True)
    ]


def test_smtp_replies_holding_semicolons_are_not_split_inside(tmp_path):
    replies = [
        NOT_FOUND,
        "451 4.4.0 Primary target IP address responded with: 421 4.4.2 Connection dropped",
        "550 4.4.7 QUEUE.Expired; message expired",
    ]
    case = load_rows(
        tmp_path,
        extended_row(
            event_id="FAIL",
            recipient_address="a@contoso.com;b@fabrikam.com;c@fabrikam.com",
            recipient_status=";".join(replies),
        ),
        extended_row(
            event_id="FAIL", recipient_address="d@contoso.com", recipient_status=NOT_FOUND
        ),
    )

    assert per_recipient(case) == [
        (2, "a@contoso.com", NOT_FOUND, 550, "5.1.1"),
        (2, "b@fabrikam.com", replies[1], 451, "4.4.0"),
        (2, "c@fabrikam.com", replies[2], 550, "4.4.7"),
        (3, "d@contoso.com", NOT_FOUND, 550, "5.1.1"),
    ]


def test_one_status_for_many_recipients_applies_to_each_and_a_mismatch_invents_nothing(tmp_path):
    case = load_rows(
        tmp_path,
        extended_row(recipient_address="a@contoso.com;b@contoso.com", recipient_status="To"),
        extended_row(
            recipient_address="a@contoso.com; b@contoso.com; c@contoso.com",
            recipient_status="250 2.1.5 OK;250 2.1.5 OK",
            event_id="DELIVER",
        ),
    )

    assert per_recipient(case) == [
        (2, "a@contoso.com", "To", None, None),
        (2, "b@contoso.com", "To", None, None),
        # two statuses for three recipients: each keeps the whole text, none is guessed
        (3, "a@contoso.com", "250 2.1.5 OK;250 2.1.5 OK", 250, "2.1.5"),
        (3, "b@contoso.com", "250 2.1.5 OK;250 2.1.5 OK", 250, "2.1.5"),
        (3, "c@contoso.com", "250 2.1.5 OK;250 2.1.5 OK", 250, "2.1.5"),
    ]


def test_an_enhanced_summary_row_becomes_one_row_per_recipient_per_event(tmp_path):
    text = (
        '"origin_timestamp_utc","sender_address","recipient_status","message_subject",'
        '"total_bytes","message_id","network_message_id","directionality"\r\n'
        '"2026-11-18T16:45:37.2502445Z","s@contoso.com",'
        '"a@contoso.com##Receive, Deliver;b@fabrikam.com##Receive, Fail","Hi","100",'
        '"<m@x>","nm-1","Originating"\r\n'
        '"2026-11-18T16:46:00Z","s@fabrikam.com","c@contoso.com##Receive, Deliver, '
        'FilteredAsSpam","Spam","200","<n@x>","nm-2","1"\r\n'
    )
    path = write_export(tmp_path, "enhanced.csv", text, "utf-16-le")

    case = load_sources([path])

    columns = ["line", "recipient_address", "event_seq", "event_id", "time_basis"]
    assert [tuple(r.values()) for r in case.events.select(columns).to_pylist()] == [
        (2, "a@contoso.com", 0, "RECEIVE", "message"),
        (2, "a@contoso.com", 1, "DELIVER", "message"),
        (2, "b@fabrikam.com", 0, "RECEIVE", "message"),
        (2, "b@fabrikam.com", 1, "FAIL", "message"),
        (3, "c@contoso.com", 0, "RECEIVE", "message"),
        (3, "c@contoso.com", 1, "DELIVER", "message"),
        (3, "c@contoso.com", 2, "FILTEREDASSPAM", "message"),
    ]
    assert case.events.column("recipient_status").to_pylist()[2] == "b@fabrikam.com##Receive, Fail"
    assert case.events.column("direction").to_pylist() == ["originating"] * 4 + ["inbound"] * 3
    record = case.inputs[0]
    assert (record.format, record.rows_read, record.rows_ingested) == ("enhanced_summary", 2, 2)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("exported", "direction"),
    [
        ("1", "inbound"),
        ("2", "outbound"),
        ("Incoming", "inbound"),
        ("Originating", "originating"),
        ("INCOMING", "inbound"),
        ("Inbound", "inbound"),
        ("Outbound", "outbound"),
        ("Intra-org", "internal"),
        ("Undefined", None),
        ("", None),
    ],
)
def test_directionality_is_normalized_and_kept_as_exported(tmp_path, exported, direction):
    case = load_rows(tmp_path, extended_row(directionality=exported))

    event = case.events.to_pylist()[0]
    assert (event["directionality"], event["direction"]) == (exported or None, direction)


def test_event_ids_are_upper_case_and_unknown_ones_are_kept(tmp_path):
    case = load_rows(
        tmp_path,
        extended_row(event_id="Deliver"),
        extended_row(event_id="SENDEXTERNAL"),
        extended_row(event_id="RecipientInfo"),
    )

    assert case.events.column("event_id").to_pylist() == [
        "DELIVER",
        "SENDEXTERNAL",
        "RECIPIENTINFO",
    ]


def test_sizes_and_counts_are_integers_and_odd_values_are_left_empty_with_a_warning(tmp_path):
    case = load_rows(
        tmp_path,
        extended_row(total_bytes="123456789012", recipient_count="3"),
        extended_row(network_message_id="n2", total_bytes="12 KB", recipient_count=""),
    )

    assert case.events.column("total_bytes").to_pylist() == [123456789012, None]
    assert case.events.column("recipient_count").to_pylist() == [3, None]
    assert case.inputs[0].warnings == [
        "1 total_bytes value(s) are not whole numbers (or too large); left empty and kept as "
        "text in extras under 'total_bytes'"
    ]


SPAM = "S:SFA=SUM|SFV=SPM|IPV=CAL|SRV=BULK|SFS=|SCL=9|SCORE=-1|LIST=0|DI=SQ|CTRY=RU|LANG=ru"
MALWARE = (
    "S:AMA=SUM|v=1|action=b|error=|atch=1;"
    "S:AMA=EV|engine=M|v=1|sig=1.1|name=Trojan:Win32/Sample|file=invoice.zip"
)
RULES = (
    "S:TRA=ETR|ruleId=7b2f6d8e-1c3a-4e5f-9a0b-2c4d6e8f0a1b|st=7/17/2017 12:31:25 AM|"
    "action=ApplyHtmlDisclaimer|sev=1|mode=Enforce;"
    "S:TRA=ETR|ruleId=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0|action=SetSCL|sev=1|mode=Enforce"
)


def test_agent_verdicts_in_custom_data_are_parsed_on_agentinfo_rows(tmp_path):
    store = "S:MailboxDatabaseGuid=4c3b;S:DeliveryPriority=Normal"
    case = load_rows(
        tmp_path,
        extended_row(event_id="AGENTINFO", source="AGENT", custom_data=SPAM),
        extended_row(event_id="AGENTINFO", source="AGENT", custom_data=MALWARE),
        extended_row(event_id="AGENTINFO", source="AGENT", custom_data=RULES),
        extended_row(event_id="DELIVER", source="STOREDRIVER", custom_data=store),
    )

    spam, malware, rules, deliver = case.events.column("custom_data_fields").to_pylist()
    assert dict(spam)["SFA.SFV"] == "SPM"
    assert dict(spam)["SFA.SCL"] == "9"
    assert dict(spam)["SFA.DI"] == "SQ"
    assert dict(spam)["SFA.SFS"] == ""
    assert ("AMA.name", "Trojan:Win32/Sample") in malware
    assert ("AMA.file", "invoice.zip") in malware
    assert [v for k, v in rules if k == "TRA.ruleId"] == [
        "7b2f6d8e-1c3a-4e5f-9a0b-2c4d6e8f0a1b",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    ]
    assert [v for k, v in rules if k == "TRA.action"] == ["ApplyHtmlDisclaimer", "SetSCL"]
    assert ("TRA.st", "7/17/2017 12:31:25 AM") in rules
    # other rows keep custom_data verbatim only
    assert deliver == []
    assert case.events.column("custom_data").to_pylist()[3] == store


def test_a_row_before_an_agentinfo_row_gets_no_verdicts_from_its_text_or_the_agents(tmp_path):
    store = "S:DeliveryPriority=Normal;S:AccountForest=EURPR01A001.prod.outlook.com"
    case = load_rows(
        tmp_path,
        extended_row(event_id="RECEIVE", source="STOREDRIVER", custom_data=store),
        extended_row(event_id="AGENTINFO", source="AGENT", custom_data="S:SFA=SUM|SFV=SPM"),
        extended_row(event_id="DELIVER", source="STOREDRIVER", custom_data=store),
    )

    assert case.events.column("custom_data_fields").to_pylist() == [
        [],
        [("SFA", "SUM"), ("SFA.SFV", "SPM")],
        [],
    ]
    assert case.events.column("custom_data").to_pylist()[0] == store


def test_mime_parts_of_smtp_receive_rows_are_parsed(tmp_path):
    mime = "S:MimeParts=Att/Emb/MPar/MType/Compl=2/1/4/MultiPart/Compliant;S:Other=x"
    case = load_rows(
        tmp_path,
        extended_row(event_id="RECEIVE", source="SMTP", custom_data=mime),
        extended_row(event_id="RECEIVE", source="STOREDRIVER", custom_data=mime),
        extended_row(event_id="SEND", source="SMTP", custom_data=mime),
    )

    assert case.events.column("custom_data_fields").to_pylist() == [
        [("MimeParts", "Att/Emb/MPar/MType/Compl=2/1/4/MultiPart/Compliant"), ("Other", "x")],
        [],
        [],
    ]
    assert case.events.column("custom_data").to_pylist() == [mime] * 3


def test_a_section_without_a_name_never_borrows_another_rows_name():
    parsed = parse_custom_data(
        pa.array(["S:SFA=SUM|SFV=SPM", "=v|k=1", "|x=2", "S:A=1;S:B|y=3;|z=4"])
    ).to_pylist()

    assert parsed == [
        [("SFA", "SUM"), ("SFA.SFV", "SPM")],
        [("k", "1")],
        [("x", "2")],
        [("A", "1"), ("y", "3"), ("z", "4")],
    ]


def test_parse_custom_data_of_the_documented_shapes():
    parsed = parse_custom_data(
        pa.array(["S:K=v", "S:ItemEntryId=AAA=BBB=|x=", None, "", "S:A=1;S:B=2|c=3"])
    ).to_pylist()

    assert parsed == [
        [("K", "v")],
        [("ItemEntryId", "AAA=BBB="), ("ItemEntryId.x", "")],
        [],
        [],
        [("A", "1"), ("B", "2"), ("B.c", "3")],
    ]


def reference_custom_data(text: str | None) -> list[tuple[str, str]]:
    """What the schema documents, in plain Python: sections at ';', pairs at '|', a pair's key
    ends at its first '='; a section's first pair (after 'S:') names it."""
    pairs: list[tuple[str, str]] = []
    for section in (text or "").split(";"):
        name = None
        for position, pair in enumerate(section.split("|")):
            if position == 0 and pair.startswith("S:"):
                pair = pair[2:]
            key, equals, value = pair.partition("=")
            if not equals or not key:
                continue
            if position == 0:
                name = key
                pairs.append((key, value))
            else:
                pairs.append((f"{name}.{key}" if name else key, value))
    return pairs


KEY = st.text(st.sampled_from("ABCSFVabcdeXYZ019._-:ü会"), min_size=1, max_size=6)
VALUE = st.text(st.sampled_from("AZaz09 .,:/=-_{}@éü会😀S"), max_size=8)
PAIR = st.builds(lambda key, value: f"{key}={value}", KEY, VALUE) | st.just("")
# what a damaged or unusual export may hold where a section's first pair should be
ODD_HEAD = st.sampled_from(["", "S:", "=v", "S:=v", "noequals", "S:name"])
HEAD = st.builds(lambda key, value: f"{key}={value}", KEY, VALUE) | ODD_HEAD
SECTION = st.builds(
    lambda prefix, head, pairs: f"{prefix}{head}" + "".join(f"|{p}" for p in pairs),
    st.sampled_from(["S:", "S:", ""]),
    HEAD,
    st.lists(PAIR | ODD_HEAD, max_size=4),
)
CUSTOM_DATA = (
    st.builds(
        lambda sections, end: ";".join(sections) + end,
        st.lists(SECTION, min_size=1, max_size=4),
        st.sampled_from(["", ";", "|"]),
    )
    | st.none()
    | st.just("")
)


@settings(max_examples=40, deadline=None)
@given(st.lists(CUSTOM_DATA, min_size=1, max_size=6))
def test_parse_custom_data_agrees_with_a_plain_reference_parser(texts):
    parsed = parse_custom_data(pa.array(texts, pa.string())).to_pylist()

    assert parsed == [reference_custom_data(text) for text in texts]


# ---------------------------------------------------------------- event keys


def test_the_same_event_has_the_same_key_whatever_file_or_line_it_came_from(tmp_path):
    first = load_rows(tmp_path / "a", extended_row(), extended_row(event_id="DELIVER"))
    second = load_rows(tmp_path / "b", extended_row(message_info="x"), extended_row())

    keys_first = event_keys(first.events).to_pylist()
    keys_second = event_keys(second.events).to_pylist()

    assert keys_first == first.events.column("event_key").to_pylist()
    assert len(set(keys_first)) == 2
    assert keys_second[1] == keys_first[0]  # same event, other file and line
    assert keys_second[0] not in keys_first  # one column differs
    assert all(len(k) == 32 for k in keys_first)  # 128 bits


def test_empty_items_of_recipient_lists_make_no_phantom_rows(tmp_path):
    text = extended_csv(
        extended_row(recipient_address="a@contoso.com;", recipient_status="To;"),
        extended_row(
            recipient_address="b@contoso.com;;c@contoso.com",
            recipient_status="To;;Cc",
            network_message_id="n2",
        ),
    )
    case = load_sources([write_export(tmp_path, "x.csv", text)])

    rows = case.events.select(["recipient_address", "recipient_status"]).to_pylist()
    assert rows == [
        {"recipient_address": "a@contoso.com", "recipient_status": "To"},
        {"recipient_address": "b@contoso.com", "recipient_status": "To"},
        {"recipient_address": "c@contoso.com", "recipient_status": "Cc"},
    ]


def test_a_count_too_large_for_its_column_is_left_empty_with_a_warning(tmp_path):
    text = extended_csv(
        extended_row(recipient_count="12345678901"), extended_row(network_message_id="n2")
    )
    case = load_sources([write_export(tmp_path, "x.csv", text)])

    assert case.events.column("recipient_count").to_pylist() == [None, 1]
    assert case.inputs[0].warnings == [
        "1 recipient_count value(s) are not whole numbers (or too large); left empty and kept "
        "as text in extras under 'recipient_count'"
    ]
    # nothing is lost: the exported text stays with its row
    assert case.events.column("extras").to_pylist()[0] == [("recipient_count", "12345678901")]
