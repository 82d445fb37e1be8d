"""SARIF, JUnit and Markdown renderings of a check verdict, on verdicts built by hand."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from blueprint.check.formats import junit, markdown, sarif
from blueprint.check.verdict import CHECKOV, POLICY_PACK, SEVERITIES, Passed, Result, Verdict

ARTIFACT = "stacks/Pulumi.prod.yaml"
URN = "urn:pulumi:prod::feature-platform::aws:s3/bucket:Bucket::{}"
DIAGRAM = 'flowchart LR\n  internet(("internet"))\n  internet --> alb'

BUCKET_LOGGING = Result(
    source=CHECKOV,
    rule_id="CKV_AWS_18",
    rule_name="Ensure the S3 bucket has access logging enabled",
    severity="medium",
    urn=URN.format("raw"),
    address="aws_s3_bucket.raw",
    message="logging is not configured",
    help_uri="https://docs.prismacloud.io/en/policy/ckv-aws-18",
    framework="terraform_plan",
)
BUCKET_ENCRYPTION = Result(
    source=POLICY_PACK,
    rule_id="s3-bucket-encryption",
    rule_name="S3 buckets are encrypted with a customer managed KMS key",
    severity="critical",
    urn=URN.format("raw"),
    message="uses AES256",
)
ADVISORY = Result(
    source=POLICY_PACK,
    rule_id="tags-required",
    rule_name="Resources carry the cost-centre tag",
    severity="high",
    urn=URN.format("offline"),
    message="no cost-centre tag",
    blocking=False,
)
INFO = Result(
    source=CHECKOV,
    rule_id="CKV2_AWS_62",
    rule_name="Ensure S3 buckets have event notifications enabled",
    severity="info",
    urn=URN.format("offline"),
    address="aws_s3_bucket.offline",
    framework="terraform_plan",
)
SUPPRESSED = Result(
    source=CHECKOV,
    rule_id="CKV_AWS_144",
    rule_name="Ensure the S3 bucket has cross-region replication enabled",
    severity="low",
    urn=URN.format("offline"),
    address="aws_s3_bucket.offline",
    suppressed="single-region by design (ADR 0007)",
)
PASSES = [
    Passed(
        CHECKOV,
        "CKV_AWS_18",
        BUCKET_LOGGING.rule_name,
        URN.format("offline"),
        "aws_s3_bucket.offline",
    ),
    Passed(POLICY_PACK, "s3-bucket-encryption", BUCKET_ENCRYPTION.rule_name, URN.format("offline")),
    Passed(CHECKOV, "CKV_AWS_21", "Ensure the S3 bucket has versioning enabled", URN.format("raw")),
]


def verdict(**changes: Any) -> Verdict:
    fields: dict[str, Any] = {
        "project": "feature-platform",
        "stack": "prod",
        "threshold": "low",
        "results": [BUCKET_LOGGING, BUCKET_ENCRYPTION, ADVISORY, INFO, SUPPRESSED],
        "passed_checks": list(PASSES),
        "resource_counts": {"aws:s3/bucket:Bucket": 2, "aws:kms/key:Key": 1},
        "diagram": DIAGRAM,
        "sources": {POLICY_PACK: "feature-platform@1.0.0", CHECKOV: "3.3.30"},
    }
    fields.update(changes)
    return Verdict(**fields)


def many_results(count: int) -> list[Result]:
    return [
        Result(
            source=(CHECKOV, POLICY_PACK)[i % 2],
            rule_id=f"CKV_AWS_{i % 40}",
            rule_name=f"Rule {i % 40}",
            severity=SEVERITIES[i % len(SEVERITIES)],
            urn=URN.format(f"bucket-{i}"),
            address=f"aws_s3_bucket.bucket_{i}" if i % 2 == 0 else "",
            message=f"finding number {i}: something is wrong with this bucket's settings",
            blocking=i % 9 != 0,
            suppressed="accepted risk" if i % 13 == 0 else "",
        )
        for i in range(count)
    ]


# --- SARIF -----------------------------------------------------------------------------------

# What GitHub code scanning needs of an upload, as a schema (no network: not the full spec).
SARIF_SUBSET = {
    "type": "object",
    "required": ["$schema", "version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": [
                                                "id",
                                                "shortDescription",
                                                "help",
                                                "properties",
                                            ],
                                            "properties": {
                                                "properties": {
                                                    "type": "object",
                                                    "required": ["security-severity", "tags"],
                                                    "properties": {
                                                        "security-severity": {
                                                            "type": "string",
                                                            "pattern": r"^\d+\.\d$",
                                                        }
                                                    },
                                                }
                                            },
                                        },
                                    }
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": [
                                "ruleId",
                                "ruleIndex",
                                "level",
                                "message",
                                "locations",
                                "partialFingerprints",
                            ],
                            "properties": {
                                "level": {"enum": ["error", "warning", "note", "none"]},
                                "message": {
                                    "type": "object",
                                    "required": ["text"],
                                    "properties": {"text": {"type": "string", "minLength": 1}},
                                },
                                "locations": {"type": "array", "minItems": 1},
                            },
                        },
                    },
                },
            },
        },
    },
}


def run_of(document: dict[str, Any], tool: str) -> dict[str, Any]:
    runs = [run for run in document["runs"] if run["tool"]["driver"]["name"] == tool]
    assert len(runs) == 1, [r["tool"]["driver"]["name"] for r in document["runs"]]
    run: dict[str, Any] = runs[0]
    return run


def result_for(run: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in run["results"] if r["ruleId"] == rule_id]
    assert len(found) == 1
    return found[0]


def test_sarif_is_a_2_1_0_log_with_a_run_per_source() -> None:
    document = sarif(verdict(), artifact=ARTIFACT)

    jsonschema.validate(document, SARIF_SUBSET)
    assert document["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert document["version"] == "2.1.0"
    pack = run_of(document, "feature-platform policy pack")
    checkov = run_of(document, "checkov")
    assert pack["tool"]["driver"]["version"] == "feature-platform@1.0.0"
    assert checkov["tool"]["driver"]["version"] == "3.3.30"
    for run in (pack, checkov):
        assert run["tool"]["driver"]["informationUri"].startswith("https://")
        assert run["automationDetails"]["id"] == "feature-platform/prod/"
        assert run["invocations"] == [{"executionSuccessful": True}]
    assert json.loads(json.dumps(document)) == document


def test_sarif_has_one_result_per_result_pointing_at_its_rule() -> None:
    v = verdict()
    document = sarif(v, artifact=ARTIFACT)

    emitted = [
        (run["tool"]["driver"]["name"], r["ruleId"], r["locations"][0]["logicalLocations"][0])
        for run in document["runs"]
        for r in run["results"]
    ]
    assert len(emitted) == len(v.results)
    for run in document["runs"]:
        rules = run["tool"]["driver"]["rules"]
        assert len({rule["id"] for rule in rules}) == len(rules)
        for r in run["results"]:
            assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    checkov = run_of(document, "checkov")
    assert {r["ruleId"] for r in checkov["results"]} == {"CKV_AWS_18", "CKV2_AWS_62", "CKV_AWS_144"}


def test_sarif_results_are_located_at_the_stack_file_and_the_resource() -> None:
    checkov = run_of(sarif(verdict(), artifact=ARTIFACT), "checkov")
    logging = result_for(checkov, "CKV_AWS_18")

    (location,) = logging["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": ARTIFACT},
        "region": {"startLine": 1},
    }
    assert location["logicalLocations"] == [
        {"fullyQualifiedName": URN.format("raw"), "kind": "resource"}
    ]
    text = logging["message"]["text"]
    assert BUCKET_LOGGING.rule_name in text
    assert "raw" in text
    assert "logging is not configured" in text
    assert logging["properties"] == {
        "severity": "medium",
        "urn": URN.format("raw"),
        "address": "aws_s3_bucket.raw",
        "framework": "terraform_plan",
        "mandatory": False,
    }


def test_sarif_rules_carry_help_and_github_security_severity() -> None:
    document = sarif(verdict(), artifact=ARTIFACT)
    checkov_rules = {r["id"]: r for r in run_of(document, "checkov")["tool"]["driver"]["rules"]}
    pack_rules = {
        r["id"]: r
        for r in run_of(document, "feature-platform policy pack")["tool"]["driver"]["rules"]
    }

    logging = checkov_rules["CKV_AWS_18"]
    assert logging["shortDescription"]["text"] == BUCKET_LOGGING.rule_name
    assert BUCKET_LOGGING.rule_name in logging["fullDescription"]["text"]
    assert logging["helpUri"] == BUCKET_LOGGING.help_uri
    for help_text in (logging["help"]["text"], logging["help"]["markdown"]):
        assert BUCKET_LOGGING.rule_name in help_text
        assert "medium" in help_text
        assert BUCKET_LOGGING.help_uri in help_text
        assert "policies/checkov/suppressions.yaml" in help_text
    assert logging["properties"] == {"security-severity": "5.5", "tags": ["security", "checkov"]}

    encryption = pack_rules["s3-bucket-encryption"]
    assert "helpUri" not in encryption
    assert "policies/config/prod.json" in encryption["help"]["text"]
    assert "suppressions.yaml" not in encryption["help"]["text"]
    assert encryption["properties"]["security-severity"] == "9.5"
    assert encryption["properties"]["tags"] == ["security", POLICY_PACK]
    assert encryption["defaultConfiguration"]["level"] == "error"
    assert pack_rules["tags-required"]["properties"]["security-severity"] == "8.0"
    assert pack_rules["tags-required"]["defaultConfiguration"]["level"] == "warning"
    assert checkov_rules["CKV_AWS_144"]["properties"]["security-severity"] == "3.0"
    assert checkov_rules["CKV2_AWS_62"]["properties"]["security-severity"] == "0.0"
    assert checkov_rules["CKV2_AWS_62"]["defaultConfiguration"]["level"] == "note"


@pytest.mark.parametrize(
    ("result", "threshold", "level"),
    [
        (BUCKET_ENCRYPTION, "low", "error"),
        (BUCKET_LOGGING, "medium", "error"),
        (BUCKET_LOGGING, "high", "warning"),  # below the threshold
        (ADVISORY, "low", "warning"),  # advisory: never blocks
        (INFO, "low", "note"),
        (INFO, "info", "error"),  # a threshold of info makes info findings fail
        (SUPPRESSED, "low", "warning"),  # suppressed: does not fail the check
    ],
)
def test_sarif_level_follows_whether_the_result_fails_the_check(
    result: Result, threshold: str, level: str
) -> None:
    document = sarif(verdict(results=[result], threshold=threshold), artifact=ARTIFACT)

    (emitted,) = [r for run in document["runs"] for r in run["results"]]
    assert emitted["level"] == level


def test_sarif_suppressed_results_carry_the_justification() -> None:
    checkov = run_of(sarif(verdict(), artifact=ARTIFACT), "checkov")

    assert result_for(checkov, "CKV_AWS_144")["suppressions"] == [
        {"kind": "external", "justification": "single-region by design (ADR 0007)"}
    ]
    assert "suppressions" not in result_for(checkov, "CKV_AWS_18")
    assert "suppressions" not in result_for(checkov, "CKV2_AWS_62")


def test_sarif_fingerprints_are_stable_and_distinct() -> None:
    first = sarif(verdict(), artifact=ARTIFACT)
    second = sarif(verdict(), artifact="stacks/Pulumi.other.yaml")

    def prints(document: dict[str, Any]) -> list[str]:
        return [
            r["partialFingerprints"]["resourceRule/v1"]
            for run in document["runs"]
            for r in run["results"]
        ]

    assert prints(first) == prints(second)
    assert len(set(prints(first))) == len(prints(first))
    expected = hashlib.sha256(
        f"checkov|CKV_AWS_18|{URN.format('raw')}|aws_s3_bucket.raw".encode()
    ).hexdigest()
    logging = result_for(run_of(first, "checkov"), "CKV_AWS_18")
    assert logging["partialFingerprints"] == {"resourceRule/v1": expected}
    # The same rule on the same resource at another checkov address is another alert.
    moved = replace(BUCKET_LOGGING, address="aws_s3_bucket.raw_v2")
    (other,) = sarif(verdict(results=[moved]), artifact=ARTIFACT)["runs"][1]["results"]
    assert other["partialFingerprints"]["resourceRule/v1"] != expected


def test_sarif_keeps_results_of_a_source_without_a_version() -> None:
    document = sarif(verdict(sources={CHECKOV: "3.3.30"}), artifact=ARTIFACT)

    pack = run_of(document, "feature-platform policy pack")
    assert "version" not in pack["tool"]["driver"]
    assert {r["ruleId"] for r in pack["results"]} == {"s3-bucket-encryption", "tags-required"}


def test_sarif_locates_each_result_at_the_line_its_caller_names() -> None:
    lines = {BUCKET_LOGGING.urn: 7, ADVISORY.urn: 12}
    document = sarif(verdict(), artifact=ARTIFACT, line=lambda r: lines.get(r.urn, 1))

    logging = result_for(run_of(document, "checkov"), "CKV_AWS_18")
    assert logging["locations"][0]["physicalLocation"]["region"] == {"startLine": 7}
    pack = run_of(document, "feature-platform policy pack")
    assert result_for(pack, "tags-required")["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": ARTIFACT},
        "region": {"startLine": 12},
    }
    # A workflow finding is located in the workflow, not in the stack file.
    workflow = replace(
        BUCKET_LOGGING,
        rule_id="CKV_GHA_7",
        urn="/.github/workflows/pull-request.yml",
        address="jobs(check)",
        framework="github_actions",
    )
    (emitted,) = sarif(verdict(results=[workflow]), artifact=ARTIFACT, line=lambda _: 9)["runs"][1][
        "results"
    ]
    assert emitted["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": ".github/workflows/pull-request.yml"},
        "region": {"startLine": 1},
    }


# --- mandatory results and the threshold ------------------------------------------------------

# A third-party pack's mandatory policy without a severity: the verdict shows it as medium.
MANDATORY = replace(BUCKET_ENCRYPTION, severity="medium", mandatory=True)


@pytest.mark.parametrize("threshold", SEVERITIES)
def test_a_mandatory_violation_fails_at_any_threshold(threshold: str) -> None:
    v = verdict(results=[MANDATORY, BUCKET_LOGGING, ADVISORY], threshold=threshold)

    assert MANDATORY in v.failures
    assert not v.passed and v.exit_code == 1
    # The threshold still applies to what is not mandatory: checkov's medium finding.
    assert (BUCKET_LOGGING in v.failures) == (threshold in ("info", "low", "medium"))
    assert ADVISORY not in v.failures  # advisory never fails
    (emitted,) = run_of(sarif(v, artifact=ARTIFACT), "feature-platform policy pack")["results"][:1]
    assert emitted["level"] == "error"
    assert emitted["properties"]["mandatory"] is True


def test_without_a_mandatory_violation_a_high_threshold_passes() -> None:
    v = verdict(results=[replace(MANDATORY, mandatory=False), BUCKET_LOGGING, ADVISORY])

    assert not v.passed  # at the default threshold (low) the medium findings fail
    high = verdict(
        results=[replace(MANDATORY, mandatory=False), BUCKET_LOGGING, ADVISORY], threshold="high"
    )
    assert high.passed and high.exit_code == 0
    assert high.by_source()[CHECKOV]["belowThreshold"] == 1


def test_markdown_says_mandatory_findings_fail_below_the_threshold() -> None:
    text = markdown(verdict(results=[MANDATORY, BUCKET_LOGGING], threshold="critical"))

    assert text.startswith("## ❌")
    by_severity = {row[0]: row[1:] for row in table_rows(text, "Severity | Findings")}
    assert by_severity["medium"] == ["2", "mandatory ones"]
    assert by_severity["high"] == ["0", "no"]
    assert by_severity["critical"] == ["0", "yes"]
    top = table_rows(text, "Severity | Source | Rule | Resource | Message")
    assert [row[2] for row in top] == ["s3-bucket-encryption"]


def test_the_summary_states_how_many_policies_were_enforced() -> None:
    levels = {"mandatory": 60, "advisory": 2, "remediate": 0, "disabled": 0}
    v = verdict(enforcement=levels)

    assert v.enforcement_line() == (
        "62 of 62 policies enforced (60 mandatory, 2 advisory, 0 remediate, 0 disabled)"
    )
    assert v.as_json()["summary"]["enforcement"] == levels
    assert f"Policy pack: {v.enforcement_line()}." in markdown(v)
    assert "Policy pack:" not in markdown(verdict())  # no pack ran: nothing to state


# --- JUnit -----------------------------------------------------------------------------------


def parse(xml: str) -> ET.Element:
    assert xml.startswith("<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(xml)


def test_junit_counts_match_the_test_cases() -> None:
    v = verdict()
    root = parse(junit(v))

    assert root.tag == "testsuites"
    assert root.get("name") == "blueprint check prod"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(v.results) + len(v.passed_checks)
    assert int(root.get("tests", "-1")) == len(cases)
    assert int(root.get("failures", "-1")) == len(root.findall(".//failure")) == 2
    assert int(root.get("skipped", "-1")) == len(root.findall(".//skipped")) == 1
    assert int(root.get("errors", "-1")) == 0
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests", "-1")) == len(suite.findall("testcase"))
        assert int(suite.get("failures", "-1")) == len(suite.findall("testcase/failure"))
        assert int(suite.get("skipped", "-1")) == len(suite.findall("testcase/skipped"))
    assert [s.get("name") for s in root.findall("testsuite")] == [POLICY_PACK, CHECKOV]


def test_junit_has_a_case_per_check_and_resource_with_its_outcome() -> None:
    root = parse(junit(verdict()))
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}

    assert set(cases) == {
        ("checkov.CKV_AWS_18", "CKV_AWS_18 on aws_s3_bucket.raw"),
        ("policy-pack.s3-bucket-encryption", "s3-bucket-encryption on raw"),
        ("policy-pack.tags-required", "tags-required on offline"),
        ("checkov.CKV2_AWS_62", "CKV2_AWS_62 on aws_s3_bucket.offline"),
        ("checkov.CKV_AWS_144", "CKV_AWS_144 on aws_s3_bucket.offline"),
        ("checkov.CKV_AWS_18", "CKV_AWS_18 on aws_s3_bucket.offline"),
        ("policy-pack.s3-bucket-encryption", "s3-bucket-encryption on offline"),
        ("checkov.CKV_AWS_21", "CKV_AWS_21 on raw"),
    }
    failure = cases[("checkov.CKV_AWS_18", "CKV_AWS_18 on aws_s3_bucket.raw")].find("failure")
    assert failure is not None
    assert failure.get("type") == "medium"
    assert failure.get("message") == "logging is not configured"
    assert URN.format("raw") in (failure.text or "")
    critical = cases[("policy-pack.s3-bucket-encryption", "s3-bucket-encryption on raw")]
    assert critical.find("failure") is not None
    assert critical.find("failure").get("type") == "critical"  # type: ignore[union-attr]

    skipped = cases[("checkov.CKV_AWS_144", "CKV_AWS_144 on aws_s3_bucket.offline")]
    assert skipped.find("failure") is None
    assert skipped.find("skipped").get("message") == (  # type: ignore[union-attr]
        "suppressed: single-region by design (ADR 0007)"
    )
    advisory = cases[("policy-pack.tags-required", "tags-required on offline")]
    assert advisory.find("failure") is None
    assert "advisory" in (advisory.findtext("system-out") or "")
    below = cases[("checkov.CKV2_AWS_62", "CKV2_AWS_62 on aws_s3_bucket.offline")]
    assert below.find("failure") is None
    assert "below the threshold" in (below.findtext("system-out") or "")
    for key in (
        ("checkov.CKV_AWS_18", "CKV_AWS_18 on aws_s3_bucket.offline"),
        ("policy-pack.s3-bucket-encryption", "s3-bucket-encryption on offline"),
        ("checkov.CKV_AWS_21", "CKV_AWS_21 on raw"),
    ):
        assert list(cases[key]) == []  # a plain pass


def test_junit_fails_on_verdict_errors_and_survives_control_characters() -> None:
    noisy = replace(BUCKET_LOGGING, message="bad \x1b[31mcolour\x00")
    v = verdict(results=[noisy], errors=["suppression for CKV_AWS_1 expired on 2025-01-01"])
    root = parse(junit(v))

    assert int(root.get("errors", "-1")) == len(root.findall(".//error")) == 1
    assert (
        int(root.get("tests", "-1")) == len(root.findall(".//testcase")) == 2 + len(PASSES)
    )  # a result, the passes, an error
    (error,) = root.iter("error")
    assert "expired" in (error.get("message") or "")
    (failure,) = root.iter("failure")
    assert failure.get("message") == "bad [31mcolour"


def test_junit_below_the_threshold_fails_nothing() -> None:
    root = parse(junit(verdict(threshold="critical")))

    assert root.get("failures") == "1"
    (failure,) = root.iter("failure")
    assert failure.get("type") == "critical"


# --- Markdown --------------------------------------------------------------------------------

TRIM_NOTE = "Trimmed to fit"


def table_rows(text: str, first_header: str) -> list[list[str]]:
    """The rows of the first table whose header starts with ``first_header``, split on
    unescaped pipes as GitHub does."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([c.strip() for c in cells])
    return rows


def test_markdown_summarises_the_verdict() -> None:
    text = markdown(verdict())

    assert text.startswith("## ❌")
    assert "feature-platform/prod" in text.splitlines()[0]
    by_severity = {row[0]: row[1:] for row in table_rows(text, "Severity | Findings")}
    assert by_severity == {
        "critical": ["1", "yes"],
        "high": ["0", "yes"],
        "medium": ["1", "yes"],
        "low": ["0", "yes"],
        "info": ["1", "no"],
    }
    by_source = {row[0]: row[1:] for row in table_rows(text, "Source")}
    assert by_source[CHECKOV] == ["3.3.30", "1", "1", "0", "1", "2"]
    assert by_source[POLICY_PACK] == ["feature-platform@1.0.0", "1", "0", "1", "0", "1"]
    top = table_rows(text, "Severity | Source | Rule | Resource | Message")
    assert [(row[0], row[2]) for row in top] == [
        ("critical", "s3-bucket-encryption"),
        ("medium", "CKV_AWS_18"),
    ]
    assert "<summary>All findings (4)</summary>" in text
    assert "<summary>Suppressed (1)</summary>" in text
    assert "single-region by design (ADR 0007)" in text
    assert f"```mermaid\n{DIAGRAM}\n```" in text
    assert ["aws:s3/bucket:Bucket", "2"] in table_rows(text, "Type")
    assert TRIM_NOTE not in text


def test_markdown_passing_verdict_lists_errors_and_notes_only_when_present() -> None:
    clean = markdown(verdict(results=[ADVISORY], diagram=""))
    assert clean.startswith("## ✅")
    assert "### Errors" not in clean
    assert "### Notes" not in clean
    assert "### Top findings" not in clean
    assert "mermaid" not in clean

    noted = markdown(verdict(errors=["suppression expired"], notes=["2 types unmapped"]))
    assert "### Errors\n\n- suppression expired" in noted
    assert "### Notes\n\n- 2 types unmapped" in noted


def test_markdown_top_findings_are_the_ten_most_severe_that_fail() -> None:
    v = verdict(results=many_results(200))
    top = table_rows(markdown(v), "Severity | Source | Rule | Resource | Message")

    assert len(top) == 10
    assert {row[0] for row in top} == {"critical"}
    failing = {r.message for r in v.failures if r.severity == "critical"}
    assert {row[4] for row in top} <= failing


def test_markdown_escapes_pipes_and_newlines_in_cells() -> None:
    tricky = replace(BUCKET_LOGGING, message="allowed: a|b\nsecond line", rule_id="X|Y")
    text = markdown(verdict(results=[tricky]))

    assert "allowed: a\\|b<br>second line" in text
    rows = table_rows(text, "Severity | Source | Rule | Resource | Status")
    assert len(rows) == 1
    assert len(rows[0]) == 6
    assert rows[0][2] == "X\\|Y"
    assert "a|b\nsecond" not in text


def test_markdown_with_thousands_of_results_stays_under_the_limit() -> None:
    v = verdict(results=many_results(5_000), resource_counts={f"aws:t/{i}:T": i for i in range(80)})
    text = markdown(v)

    assert len(text) <= 65_536
    assert TRIM_NOTE in text
    note = next(line for line in text.splitlines() if TRIM_NOTE in line)
    assert "resource summary" in note
    assert "diagram" in note
    assert "all-findings table" in note
    assert "SARIF" in note
    assert "mermaid" not in text
    assert "<summary>Resources" not in text
    # The summary and the top findings survive; the findings table keeps as many rows as fit.
    assert "### Top findings" in text
    kept = table_rows(text, "Severity | Source | Rule | Resource | Status")
    unsuppressed = sum(1 for r in v.results if not r.suppressed)
    assert 100 < len(kept) < unsuppressed
    assert f"<summary>All findings ({unsuppressed:,})</summary>" in text
    assert f"{unsuppressed - len(kept):,} of {unsuppressed:,} rows" in note


def test_markdown_trims_the_resource_summary_before_the_diagram() -> None:
    v = verdict(resource_counts={f"aws:type/{i}:Type": i for i in range(50)})
    full = markdown(v, limit=10**6)
    limit = len(full) - 100  # a few resource rows too many
    text = markdown(v, limit=limit)

    assert len(text) <= limit
    assert f"```mermaid\n{DIAGRAM}\n```" in text
    assert "<summary>All findings (4)</summary>" in text
    note = next(line for line in text.splitlines() if TRIM_NOTE in line)
    assert "resource summary" in note
    assert "diagram" not in note
    assert 0 < len(table_rows(text, "Type")) < 50


@pytest.mark.parametrize("limit", [300, 2_000, 10_000, 40_000, 65_536])
def test_markdown_never_exceeds_the_limit(limit: int) -> None:
    v = verdict(
        results=many_results(5_000),
        errors=[f"error {i}" for i in range(50)],
        notes=["x" * 500 for _ in range(20)],
    )
    text = markdown(v, limit=limit)

    assert len(text) <= limit
    assert text.startswith("## ❌")


def test_markdown_below_the_limit_is_not_trimmed() -> None:
    v = verdict(results=many_results(100))
    full = markdown(v, limit=10**6)

    assert markdown(v, limit=len(full)) == full
    assert TRIM_NOTE not in full
    assert len(table_rows(full, "Severity | Source | Rule | Resource | Status")) == sum(
        1 for r in v.results if not r.suppressed
    )
