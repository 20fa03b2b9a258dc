"""Break each guarantee in a private copy of the core and check that its test fails.

    .venv/bin/python tests/_break_guarantees.py [EXPERIMENT ...]

Each experiment copies src/core to a temporary folder, makes one edit that
breaks one guarantee (the edit must apply exactly once), and runs the tests
that prove the guarantee with that copy first on PYTHONPATH (and, through
FAULT_ENV_PYTHONPATH, in the fault venv). Every line should say "FAILS as it
should"; "STILL PASSES" means a test no longer proves its guarantee, and
"PATCH DID NOT APPLY" means the code moved: update the experiment. The working
tree is never touched. Not collected by pytest (the name starts with "_").
"""
import os, pathlib, shutil, subprocess, sys, tempfile
REPO = pathlib.Path(__file__).resolve().parent.parent
EXPERIMENTS = [
 # (id, file, old, new, tests)
 ("scrub-cut", "_logs.py", "        if form in text:\n            text = text.replace(form, REDACTED)", "        pass",
  ["tests/test_faults.py::test_a_raising_rule_denies_and_logs_a_redacted_traceback", "tests/test_log_safety.py::test_scrub_cuts_a_secret_in_every_encoding_it_meets"]),
 ("scrub-call-removed", "_runner.py", 'detail = {**detail, "traceback": scrub(detail["traceback"], secrets)}', 'detail = {**detail, "traceback": detail["traceback"]}',
  ["tests/test_faults.py::test_a_raising_rule_denies_and_logs_a_redacted_traceback", "tests/test_log_safety.py::test_no_event_of_any_shared_case_leaks_or_breaks_a_line"]),
 ("patterns", "_logs.py", "    return _PATTERNS.sub(_mask, text)", "    return text",
  ["tests/test_log_safety.py::test_credential_shaped_text_is_masked_without_knowing_the_value", "tests/test_log_safety.py::test_host_events_are_redacted_by_the_recommended_chain"]),
 ("escape-control", "_logs.py", "    if _CONTROL.search(text) is None:\n        return text", "    return text",
  ["tests/test_log_safety.py", "tests/test_faults.py::test_a_raising_rule_denies_and_logs_a_redacted_traceback"]),
 ("secret-settings", "_logs.py", "            if f.metadata.get(\"secret\"):\n                _collect(item, found)", "            if False:\n                _collect(item, found)",
  ["tests/test_faults.py::test_a_raising_rule_denies_and_logs_a_redacted_traceback"]),
 ("settings-configerror", "_settings.py", 'raise SettingError(f"invalid settings: {scrub(str(exc), secrets)}") from None', 'raise SettingError(f"invalid settings: {exc}") from None',
  ["tests/test_log_safety.py::test_a_secret_setting_rejected_by_its_own_checks_is_not_quoted_in_the_error"]),
 ("console-exception-key", "_runner.py", '{"exception_type": escape_control', '{"exception": escape_control',
  ["tests/test_log_safety.py::test_no_event_of_any_shared_case_leaks_or_breaks_a_line"]),
 ("wsgi-keys", "_logs.py", '    return key[5:] if key.startswith("http_") else key', '    return key',
  ["tests/test_log_safety.py::test_host_events_are_redacted_by_the_recommended_chain"]),
 ("rule-faults-exception-only", "_runner.py", "_RULE_FAULTS = (BaseException,)", "_RULE_FAULTS = (Exception,)",
  ["tests/test_faults.py::test_a_raising_rule_denies_and_logs_a_redacted_traceback"]),
 ("own-timeout-error", "_runner.py", "            if future.done() and not future.cancelled() and future.exception() is exc \\\n                    and not isinstance(exc, self._workers.Overloaded):", "            if False:",
  ["tests/test_faults.py::test_a_blocking_rule_that_raises_timeout_error_is_an_error_not_a_timeout", "tests/test_faults.py::test_keyboard_interrupt_raised_on_a_worker_thread_is_a_rule_fault"]),
 ("deadline-10x", "_runner.py", "            return future.result(timeout)", "            return future.result(timeout * 10)",
  ["tests/test_faults.py::test_a_rule_past_its_deadline_denies_503_within_the_deadline"]),
 ("async-deadline", "_runner.py", "        await asyncio.wait((task,), timeout=timeout)", "        await asyncio.wait((task,), timeout=timeout * 10)",
  ["tests/test_faults.py::test_a_rule_past_its_deadline_denies_503_within_the_deadline"]),
 ("thread-deadline-async", "_runner.py", "async with asyncio.timeout(timeout) as deadline:", "async with asyncio.timeout(timeout * 10) as deadline:",
  ["tests/test_faults.py::test_a_blocking_rule_under_evaluate_async_has_the_same_deadline"]),
 ("async-late-answer", "_runner.py", "    if loop.time() > deadline:", "    if False:",
  ["tests/test_faults.py::test_an_async_rule_that_blocks_the_loop_is_denied_when_it_comes_back_late"]),
 ("async-own-cancel", "_runner.py", "                    if task is None or task.cancelling():", "                    if True:",
  ["tests/test_faults.py::test_an_async_rule_that_raises_cancelled_error_itself_is_a_fault"]),
 ("coroutine-close", "_runner.py", "                result.close()  # an unawaited", "                pass  # an unawaited",
  ["tests/test_faults.py::test_a_rule_that_returns_garbage_denies_and_says_what_came_back"]),
 ("repr-base-exception", "_runner.py", "            except _RULE_FAULTS:\n                shown", "            except Exception:\n                shown",
  ["tests/test_faults.py::test_a_rule_that_returns_garbage_denies_and_says_what_came_back"]),
 ("workers-one-idle", "_workers.py", "            if self._idle > 0:\n                self._idle -= 1\n            elif", "            if self._idle > 0:\n                pass\n            elif",
  ["tests/test_faults.py::test_busy_workers_do_not_make_a_healthy_rule_miss_its_deadline"]),
 ("workers-unbounded", "_workers.py", "            elif self._backlog < self._max_queue:", "            elif True:",
  ["tests/test_faults.py::test_hung_rules_cannot_queue_work_without_bound"]),
 ("request-not-frozen", "_request.py", "@dataclass(frozen=True, slots=True, repr=False, eq=False)", "@dataclass(frozen=False, slots=True, repr=False, eq=False)",
  ["tests/test_faults.py::test_a_rule_that_tries_to_change_the_request_is_denied", "tests/test_faults.py::test_a_skipped_mutation_leaves_later_rules_the_original_request"]),
 ("skip-swallows-deny", "_runner.py", "        if step.skip:\n            return None\n        return _TIMED_OUT", "        return None\n        return _TIMED_OUT",
  ["tests/test_faults.py::test_a_rule_that_returns_garbage_denies_and_says_what_came_back"]),
 ("garbage-truthy-allows", "_runner.py", "        secrets = (*request.secrets, *secret_values(step.settings))", "        if result is True or result == 'allow':\n            return None\n        secrets = (*request.secrets, *secret_values(step.settings))",
  ["tests/test_faults.py::test_a_rule_that_returns_garbage_denies_and_says_what_came_back", "tests/test_faults.py::test_installed_faulty_plugin_denies_through_the_python_api"]),
 ("params-limit-off-by-one", "_params.py", "        if self.n > self.limits.max_params:", "        if self.n > self.limits.max_params + 1:",
  ["tests/test_limits.py::test_each_limit_is_settable_and_exact"]),
 ("body-413-as-400", "_http.py", 'raise RequestError("the request body is too large", 413)\n        if len(rest)', 'raise RequestError("the request body is too large", 400)\n        if len(rest)',
  ["tests/test_limits.py::test_each_limit_is_settable_and_exact"]),
 ("limits-recheck", "_runner.py", "        if request.limits is pipeline.limits:\n            return None", "        return None",
  ["tests/test_limits.py::test_a_request_parsed_under_looser_limits_is_rechecked"]),
 ("quadratic-audiences", "_request.py", "audiences = named + tuple(a for a in params.get(\"resource\", ()) if a not in seen)", "audiences = named + tuple(a for a in params.get(\"resource\", ()) if a not in named)",
  ["tests/test_limits.py::test_decision_time_grows_linearly"]),
 ("allowlist-by-entry-point", "_plugins.py", "not ({_norm(dist)} if dist else names) & self.allow", "not names & self.allow",
  ["tests/test_trust.py::test_only_allowed_distributions_are_imported"]),
 ("allowlist-ignored", "_plugins.py", '                status = "not-allowed"', '                status = None',
  ["tests/test_trust.py"]),
 ("contextvar-not-copied", "_workers.py", "future.set_result(context.run(fn, *args))", "future.set_result(fn(*args))",
  ["tests/test_concurrency.py"]),
 ("decision-logged-twice", "_runner.py", "                said.info(\"authrules.decision\", decision_id=did, outcome=\"allow\",", "                if client_id and client_id.endswith('7'):\n                    said.info('authrules.decision', decision_id=did)\n                said.info(\"authrules.decision\", decision_id=did, outcome=\"allow\",",
  ["tests/test_concurrency.py"]),
 ("uri-trailing-dot", "_uri.py", '    domain = domain.rstrip(".")', '    domain = domain',
  ["tests/test_request_parsing.py::test_equivalent_spellings_of_a_denied_audience_are_denied"]),
 ("basic-conflict-ignored", "_request.py", '        if client_id is not None and client_id != basic[0]:', '        if False:',
  ["tests/test_request_parsing.py::test_basic_and_request_client_id_that_disagree_is_invalid",
   "tests/test_property.py::test_decisions_match_the_reference_model"]),
 ("crash-on-bytes", "_http.py", '        text = head.decode("ascii")\n    except UnicodeDecodeError:', '        text = head.decode("ascii")\n    except ZeroDivisionError:',
  ["tests/test_request_parsing.py::test_framing_two_servers_could_read_two_ways_is_invalid",
   "tests/test_property.py::test_random_bytes_get_a_decision"]),
 ("check-nested-secret", "_cli.py", "    if dataclasses.is_dataclass(value) and not isinstance(value, type):\n        return _settings_text(value)\n    if isinstance(value, (tuple", "    if isinstance(value, (tuple",
  ["tests/test_log_safety.py::test_authrules_check_masks_secret_settings"]),
 ("nested-secret-settings", "_logs.py", "            else:\n                _collect_secrets(item, found)", "            else:\n                pass",
  ["tests/test_log_safety.py::test_authrules_eval_logs_one_clean_line_per_event",
   "tests/test_faults.py::test_a_raising_rule_denies_and_logs_a_redacted_traceback"]),
 ("redact-top-level-only", "_logs.py", "        else:  # numbers of other types come back from _clean as they are\n            event[key] = _clean(value, escape=False)", "        else:\n            pass",
  ["tests/test_log_safety.py::test_host_events_are_redacted_by_the_recommended_chain"]),
 # the fast paths of the log-safety processors (tests/test_log_fast_paths.py)
 ("fast-precheck-space", "_logs.py", '    if text.isprintable() and ":" not in text and "=" not in text and " " not in text:', '    if text.isprintable() and ":" not in text and "=" not in text:',
  ["tests/test_log_fast_paths.py"]),
 ("fast-precheck-words", "_logs.py", "        for word in _WORDS:", "        for word in _WORDS[1:]:",
  ["tests/test_log_fast_paths.py"]),
 ("fast-precheck-non-ascii", "_logs.py", "        return True\n    return False\n\n\ndef mask_patterns", "        return True\n    return True\n\n\ndef mask_patterns",
  ["tests/test_log_fast_paths.py"]),
 ("fast-mask-subclass", "_logs.py", "    if type(text) is str and _credential_free(text):", "    if _credential_free(text):",
  ["tests/test_log_fast_paths.py"]),
 ("fast-escape-subclass", "_logs.py", "    if type(text) is str and text.isprintable():", "    if text.isprintable():",
  ["tests/test_log_fast_paths.py"]),
 ("fast-plain-memo-control", "_logs.py", "    if masked is text and (text.isprintable() or _CONTROL.search(text) is None):", "    if masked is text:",
  ["tests/test_log_safety.py", "tests/test_log_fast_paths.py"]),
 ("fast-key-memo-subclass", "_logs.py", "        if type(key) is not str or key not in value_keys:\n            kind = _key_kind(key)", "        if key not in value_keys:\n            kind = _key_kind(key)",
  ["tests/test_log_fast_paths.py"]),
 ("fast-secret-memo-subclass", "_logs.py", "    if type(name) is not str:\n        return _key(name) in SECRET_KEYS", "    if False:\n        return _key(name) in SECRET_KEYS",
  ["tests/test_log_fast_paths.py"]),
 ("fast-sequence-pair", "_logs.py", "    return len(value) != 2 or not is_secret_key(value[0])", "    return True",
  ["tests/test_log_fast_paths.py"]),
 # guarantees added after the first audit (README "What a rule sees", docs/security.md)
 ("deny-text-unvetted", "_runner.py", "        forms = secret_forms((*request.secrets, *secret_values(step.settings)))", "        forms = ()",
  ["tests/test_log_safety.py::test_a_deny_whose_text_holds_a_credential_is_sent_and_logged_without_it"]),
 ("rule-events-not-cut", "_logs.py", "            _cut_request_secrets(event, current)", "            pass",
  ["tests/test_log_safety.py::test_a_rules_own_events_lose_the_requests_credentials_however_worded"]),
 ("query-body-split", "_request.py", "    if body:\n        _one_place(", "    if False:\n        _one_place(",
  ["tests/test_request_parsing.py::test_parameters_split_between_query_and_body_are_invalid"]),
 ("json-body-only", "_request.py", "    if json_body and in_query:", "    if False:",
  ["tests/test_request_parsing.py::test_parameters_split_between_query_and_body_are_invalid"]),
 ("request-uri-trusted", "_request.py", "    if \"request_uri\" in params:\n        _pushed_only(params)", "    if False:\n        _pushed_only(params)",
  ["tests/test_request_parsing.py::test_a_request_uri_authrules_cannot_read_through_is_invalid"]),
 ("outside-request-object", "_request.py", "        _all_inside(params, inner)", "        pass",
  ["tests/test_request_parsing.py::test_a_resolved_parameter_outside_the_request_object_only_is_invalid"]),
 ("php-names", "_params.py", "        folded, bare, folded.translate(_PHP_NAME), bare.translate(_PHP_NAME), folded.rpartition(\".\")[2]))", "        folded,))",
  ["tests/test_request_parsing.py::test_a_name_other_servers_read_as_a_resolved_one_is_invalid"]),
 ("charset-only-with-body", "_request.py", "    if charset not in (None, \"utf-8\", \"us-ascii\"):", "    if body and charset not in (None, \"utf-8\", \"us-ascii\"):",
  ["tests/test_request_parsing.py::test_a_charset_a_server_could_decode_by_is_invalid_body_or_not"]),
 ("host-headers-unchecked", "_request.py", "            if not checked:\n                _check_header_text(headers)", "            pass",
  ["tests/test_request_parsing.py::test_a_host_header_authrules_reads_must_be_plain_ascii"]),
 ("chunk-size-space", "_http.py", "_CHUNK_LINE = re.compile(rb\"([0-9A-Fa-f]", "_CHUNK_LINE = re.compile(rb\"[ \\t]*([0-9A-Fa-f]",
  ["tests/test_request_parsing.py::test_malformed_chunked_bodies_are_invalid"]),
 ("assertion-repeated-claims", "_request.py", "    claims = parse_json_value(payload, \"the client assertion\")", "    claims = __import__('json').loads(payload)",
  ["tests/test_request_parsing.py::test_client_assertion_with_a_repeated_claim_or_encrypted_is_invalid"]),
 ("cli-no-watchdog", "_cli.py", "    signal.setitimer(signal.ITIMER_REAL, seconds, _AGAIN)", "    pass",
  ["tests/test_faults.py::test_installed_faulty_plugin_denies_through_authrules_eval"]),
 ("skip-reasons", "_cli.py", '            line += f"  skipped, never imported: {SKIP_REASONS[info.status]}"', '            pass',
  ["tests/test_trust.py::test_authrules_plugins_says_what_was_skipped_and_why"]),
]
only = sys.argv[1:]
results = []
for ident, fname, old, new, tests in EXPERIMENTS:
    if only and ident not in only:
        continue
    root = pathlib.Path(tempfile.gettempdir()) / "authrules-break" / ident
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "src/core", root / "authrules", ignore=shutil.ignore_patterns("__pycache__"))
    path = root / "authrules" / fname
    text = path.read_text()
    if text.count(old) != 1:
        results.append((ident, f"PATCH DID NOT APPLY ({text.count(old)})"))
        continue
    path.write_text(text.replace(old, new))
    env = {**os.environ, "PYTHONPATH": str(root), "FAULT_ENV_PYTHONPATH": str(root)}
    proc = subprocess.run([str(REPO / ".venv/bin/python"), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           "-o", "addopts=", *tests], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    tail = [l for l in proc.stdout.splitlines() if l.startswith(("FAILED", "ERROR"))][:1]
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
    results.append((ident, ("FAILS as it should: " if proc.returncode != 0 else "STILL PASSES (bad): ")
                    + summary + (" | " + tail[0][:160] if tail else "")))
    print(results[-1], flush=True)
print()
for r in results:
    print(*r, sep="  ->  ")
