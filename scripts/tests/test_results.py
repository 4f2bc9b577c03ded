"""Tests of scripts/results.py against the serial and cargo logs in fixtures/.

Run: python3 -m unittest discover -s scripts/tests -v
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
sys.path.insert(0, os.path.join(HERE, ".."))

import results  # noqa: E402


def run(*argv):
    """(exit status, printed lines) of results.py with these arguments."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = results.main(list(argv))
    return rc, out.getvalue().splitlines()


def fixture(name):
    return os.path.join(FIXTURES, name)


def fails(lines):
    return [l for l in lines if l.startswith("FAIL ")]


class GuestLog(unittest.TestCase):
    def guest(self, name, *extra):
        return run("guest", fixture(name), "--expect-end", *extra)

    def test_clean_pass(self):
        rc, out = self.guest("pass.log")
        self.assertEqual(out[-1], "3 passed, 0 failed, 1 skipped")
        self.assertEqual(fails(out), [])
        self.assertEqual(rc, 0)

    def test_warning_fails_the_run(self):
        rc, out = self.guest("warning.log")
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], "2 passed, 1 failed")
        self.assertEqual(len(fails(out)), 1)
        self.assertRegex(fails(out)[0], r"^FAIL hsm/hsm_test: kernel: WARNING: CPU: 0 PID: 87 at hsm/vm.rs:120 ")

    def test_kasan(self):
        rc, out = self.guest("kasan.log")
        self.assertEqual(rc, 1)
        self.assertEqual(fails(out), [
            "FAIL vhost/vhost_net_test: kernel: BUG: KASAN: slab-use-after-free in "
            "vhost_dev_cleanup+0x3c/0x2f0 [vhost]"])
        self.assertEqual(out[-1], "1 passed, 1 failed")

    def test_lockdep_circular_is_one_failure(self):
        rc, out = self.guest("lockdep.log")
        self.assertEqual(rc, 1)
        self.assertEqual(fails(out), [
            "FAIL hsm/hsm_test: kernel: WARNING: possible circular locking dependency detected"])

    def test_kmemleak(self):
        rc, out = self.guest("kmemleak.log")
        self.assertEqual(rc, 1)
        self.assertEqual(len(fails(out)), 1)
        self.assertIn("FAIL kernel/kmemleak: kernel: kmemleak: 1 new suspected memory leaks", fails(out)[0])
        self.assertEqual(out[-1], "1 passed, 1 failed")

    def test_kmemleak_count_alone(self):
        with open(fixture("kmemleak.log")) as f:
            text = f.read().replace("kmemleak: 1 new suspected memory leaks", "kmemleak: scan done")
        rc, out = self.guest_text(text)
        self.assertEqual(rc, 1)
        self.assertEqual(fails(out), ["FAIL kernel/kmemleak: kmemleak: 1 unreferenced objects"])

    def test_missing_end(self):
        rc, out = self.guest("noend.log")
        self.assertEqual(rc, 1)
        f = fails(out)
        # The Oops report and the panic it causes are one splat.
        self.assertEqual(f, [
            "FAIL hsm/hsm_test: no result: crashed, hung or timed out",
            "FAIL hsm/hsm_test: kernel: BUG: kernel NULL pointer dereference, address: 0000000000000008",
            "FAIL guest/run: guest did not finish: crash, hang or timeout",
        ])
        self.assertEqual(out[-1], "1 passed, 3 failed")

    def test_missing_end_without_expect_end(self):
        rc, out = run("guest", fixture("noend.log"))
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], "1 passed, 2 failed")

    def test_missing_begin(self):
        rc, out = self.guest_text("[    1.000000] Run /init as init process\nhello\n")
        self.assertEqual(rc, 1)
        self.assertIn("FAIL guest/run: guest did not start the tests (no 'acrn-rs-tests: begin')", out)
        self.assertEqual(out[-1], "0 passed, 2 failed")

    def test_interleaved_console(self):
        rc, out = self.guest("interleaved.log")
        self.assertEqual(rc, 1)
        self.assertEqual(out[-1], "3 passed, 1 failed")
        self.assertEqual(len(fails(out)), 1)
        self.assertIn("kernel: WARNING: CPU: 1 PID: 90 at drivers/virt/acrn/ioreq.c:412", fails(out)[0])

    def test_interleaved_case_names_are_rejoined(self):
        programs, _, _ = results.parse_guest(results.read_lines(fixture("interleaved.log")))
        names = [n for _, n in programs[("hsm", "hsm_test")]["nested"]]
        self.assertEqual(names, ["global.create_vm", "global.destroy_vm", "global.ioreq"])

    def test_program_output_with_warning_word_is_not_a_splat(self):
        text = ("acrn-rs-tests: begin\nTAP version 13\n1..1\n# selftests: s: p\n"
                "# WARNING: CPU: 0 PID: 1 at fake.c:1 printed by the test\n"
                "# BUG: KASAN: also just text\n# Kernel panic - not really\n"
                "ok 1 selftests: s: p\nacrn-rs-tests: end\n")
        rc, out = self.guest_text(text)
        self.assertEqual((rc, out[-1]), (0, "1 passed, 0 failed"))

    def test_splat_at_boot(self):
        text = ("[    1.000000] ------------[ cut here ]------------\n"
                "[    1.000100] WARNING: CPU: 0 PID: 1 at arch/x86/kernel/cpu/common.c:12 x+0x1/0x2\n"
                "[    1.000200] ---[ end trace 0000000000000000 ]---\n"
                "acrn-rs-tests: begin\nTAP version 13\n1..1\n# selftests: s: p\n"
                "ok 1 selftests: s: p\nacrn-rs-tests: end\n")
        rc, out = self.guest_text(text)
        self.assertEqual(rc, 1)
        self.assertEqual(fails(out), ["FAIL kernel/boot: kernel: WARNING: CPU: 0 PID: 1 at "
                                      "arch/x86/kernel/cpu/common.c:12 x+0x1/0x2"])

    def test_splat_before_printk_time(self):
        # printk.time=1 only applies once the command line is parsed: earlier lines have no prefix.
        text = ("Booting the kernel (entropy: 0x1a2b3c4d).\n"
                "Linux version 6.12.117 (root@ci) #1 SMP PREEMPT_DYNAMIC\n"
                "------------[ cut here ]------------\n"
                "WARNING: CPU: 0 PID: 0 at arch/x86/kernel/setup.c:1 setup_arch+0x1/0x2\n"
                "---[ end trace 0000000000000000 ]---\n"
                "[    1.000000] Run /init as init process\n"
                "acrn-rs-tests: begin\nTAP version 13\n1..1\n# selftests: s: p\n"
                "ok 1 selftests: s: p\nacrn-rs-tests: end\n")
        rc, out = self.guest_text(text)
        self.assertEqual(rc, 1)
        self.assertEqual(fails(out), ["FAIL kernel/boot: kernel: WARNING: CPU: 0 PID: 0 at "
                                      "arch/x86/kernel/setup.c:1 setup_arch+0x1/0x2"])

    def test_real_boot_with_splats(self):
        # A real boot: a module with WARN_ON(1) and a leaked kmalloc, a failing, a hanging and
        # a skipped program, and acrn_rs.suites naming an unknown suite.
        rc, out = self.guest("real_splats.log")
        self.assertEqual(rc, 1)
        self.assertEqual(fails(out), [
            "FAIL fails/fail.sh: exit=3",
            "FAIL fails/hang.sh: TIMEOUT 3 seconds",
            "FAIL probe2/probe2.sh: kernel: WARNING: CPU: 1 PID: 112 at /tmp/warnmod/warnmod.c:10 "
            "init_module+0x67/0x1000 [warnmod]",
            "FAIL kernel/kmemleak: kernel: kmemleak: 1 new suspected memory leaks "
            "(see /sys/kernel/debug/kmemleak)",
            "FAIL guest/run: error: unknown suite nope",
        ])
        self.assertEqual(out[-1], "1 passed, 5 failed, 1 skipped")

    def test_two_reports_are_two_failures(self):
        text = ("acrn-rs-tests: begin\nTAP version 13\n1..1\n# selftests: s: p\n"
                "[    5.000000] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:585\n"
                "[    5.000100] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 70, name: p\n"
                "[    5.000200] Call Trace:\n"
                "[    9.000000] ------------[ cut here ]------------\n"
                "[    9.000100] refcount_t: underflow; use-after-free.\n"
                "[    9.000200] WARNING: CPU: 1 PID: 70 at lib/refcount.c:28 refcount_warn_saturate+0x9b/0x110\n"
                "[    9.000300] ---[ end trace 0000000000000000 ]---\n"
                "[    9.100000] INFO: task p:70 blocked for more than 120 seconds.\n"
                "ok 1 selftests: s: p\nacrn-rs-tests: end\n")
        rc, out = self.guest_text(text)
        self.assertEqual(rc, 1)
        self.assertEqual([l.split(": ", 2)[2][:30] for l in fails(out)], [
            "BUG: sleeping function called ", "refcount_t: underflow; use-aft",
            "INFO: task p:70 blocked for mo"])

    def test_dmesg_replay_is_not_counted_twice(self):
        w = "[    5.000100] WARNING: CPU: 0 PID: 9 at a.c:1 f+0x1/0x2\n"
        text = ("acrn-rs-tests: begin\nTAP version 13\n1..1\n# selftests: s: p\n" + w +
                "# " + w + "ok 1 selftests: s: p\nacrn-rs-tests: end\n")
        rc, out = self.guest_text(text)
        self.assertEqual(len(fails(out)), 1)

    def test_skip(self):
        rc, out = self.guest("skip.log")
        self.assertEqual(rc, 0)
        self.assertEqual(out[-1], "1 passed, 0 failed, 2 skipped")
        self.assertIn("  vhost: 0 passed, 0 failed, 1 skipped", out)

    def test_nested_failure(self):
        rc, out = self.guest("nested_fail.log")
        self.assertEqual(rc, 1)
        self.assertEqual(fails(out), ["FAIL hsm/hsm_test: vm.set_memseg"])
        self.assertEqual(out[-1], "2 passed, 1 failed")

    def test_crashed_programs(self):
        rc, out = self.guest("crash.log")
        self.assertEqual(rc, 1)
        self.assertEqual(fails(out), [
            "FAIL vhost/vhost_net_test: exit=139",
            "FAIL hsm/hsm_test: exit=1",
            "FAIL hsm/stress.sh: TIMEOUT 45 seconds",
        ])
        self.assertEqual(out[-1], "1 passed, 3 failed")

    def test_unknown_suite_error(self):
        text = "acrn-rs-tests: begin\nacrn-rs-tests: error: unknown suite nope\nTAP version 13\n1..0\nacrn-rs-tests: end\n"
        rc, out = self.guest_text(text)
        self.assertEqual(rc, 1)
        self.assertEqual(fails(out), ["FAIL guest/run: error: unknown suite nope"])

    def guest_text(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.write(text)
        try:
            return run("guest", f.name, "--expect-end")
        finally:
            os.unlink(f.name)


class CargoLog(unittest.TestCase):
    def test_pass(self):
        rc, out = run("cargo", fixture("cargo_pass.log"))
        self.assertEqual((rc, out), (0, ["16 passed, 0 failed, 1 skipped"]))

    def test_fail(self):
        rc, out = run("cargo", fixture("cargo_fail.log"))
        self.assertEqual(rc, 1)
        self.assertEqual(out, ["FAIL cargo: ioctl::tests::vm_creation_layout", "3 passed, 1 failed"])

    def test_compile_error(self):
        rc, out = run("cargo", fixture("cargo_compile_error.log"))
        self.assertEqual(rc, 1)
        self.assertEqual(out, ["FAIL cargo: error[E0425]: cannot find value `IC_ID` in this scope",
                               "0 passed, 1 failed"])


class UnittestLog(unittest.TestCase):
    def test_pass_with_skip(self):
        rc, out = run("unittest", fixture("unittest_pass.log"))
        self.assertEqual((rc, out), (0, ["2 passed, 0 failed, 1 skipped"]))

    def test_failure_and_error(self):
        rc, out = run("unittest", fixture("unittest_fail.log"))
        self.assertEqual(rc, 1)
        self.assertEqual(out, ["FAIL unittest: test_crash (test_results.Sum.test_crash)",
                               "FAIL unittest: test_sum (test_results.Sum.test_sum)",
                               "2 passed, 2 failed"])

    def test_import_error(self):
        rc, out = run("unittest", fixture("unittest_import_error.log"))
        self.assertEqual((rc, out[-1]), (1, "0 passed, 1 failed"))

    def test_truncated_run(self):
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            f.write("test_pass (test_results.CargoLog.test_pass) ... ok\n")
        self.addCleanup(os.unlink, f.name)
        rc, out = run("unittest", f.name)
        self.assertEqual((rc, out[-1]), (1, "0 passed, 1 failed"))


class Sum(unittest.TestCase):
    def write(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".sum", delete=False)
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_sum(self):
        a = self.write("FAIL x/y: z\n  x: 3 passed, 1 failed\n3 passed, 1 failed\n")
        b = self.write("16 passed, 0 failed, 1 skipped\n\n")
        rc, out = run("sum", a, b)
        self.assertEqual((rc, out[-1]), (1, "19 passed, 1 failed, 1 skipped"))

    def test_sum_all_passed(self):
        a = self.write("3 passed, 0 failed\n")
        rc, out = run("sum", a, a)
        self.assertEqual((rc, out[-1]), (0, "6 passed, 0 failed"))

    def test_sum_bad_file(self):
        a = self.write("3 passed, 0 failed\n")
        bad = self.write("no summary here\n")
        rc, out = run("sum", a, bad, "/nonexistent/summary")
        self.assertEqual((rc, out[-1]), (1, "3 passed, 2 failed"))


if __name__ == "__main__":
    unittest.main()
