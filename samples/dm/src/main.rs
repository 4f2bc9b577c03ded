// SPDX-License-Identifier: GPL-2.0

//! acrn-dm-rs: a small device model for ACRN User VMs, on `/dev/acrn_hsm` (upstream ABI:
//! works with Linux's `acrn.ko` and with our `acrn_hsm.ko`).
//!
//! It creates a VM with RAM at guest physical address 0, loads a flat binary image, starts
//! the BSP in real, 32-bit or 64-bit mode, and serves the guest's I/O requests as the default
//! client: a 16550 UART transmitter (console output on stdout), a debug exit port (a write
//! ends the VM with that status), an interrupt doorbell (a write of a vector injects that MSI)
//! and an MMIO page of VM information. Everything else reads as all ones. SIGINT/SIGTERM
//! and `--timeout` stop the VM; the VM is always paused and
//! destroyed before the DM exits.
//!
//! Exit status: the guest's exit value; 124 on timeout; 128 + signal; 1 on errors.

mod boot;
mod devices;
mod hsm;
mod ioreq;
mod sys;

use devices::{doorbell::Doorbell, exit::ExitPort, info::VmInfo, uart::Uart, Action, Bus};
use ioreq::Space;
use std::io;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

const USAGE: &str = "usage: acrn-dm-rs [--mode real|prot32|long64] [--ram MiB] [--load ADDR] \
[--entry ADDR] [--name NAME] [--timeout SECONDS] [--uart PORT] [--exit-port PORT] \
[--doorbell PORT] [--info GPA] [--verbose] IMAGE";

/// MSI address for fixed delivery to the vCPU with APIC id 0.
const MSI_ADDR_VCPU0: u64 = 0xfee0_0000;

struct Options {
    mode: boot::Mode,
    ram_mib: usize,
    load: u64,
    entry: Option<u64>,
    name: String,
    timeout: u32,
    uart: u64,
    exit_port: u64,
    doorbell: u64,
    info: u64,
    verbose: bool,
    image: String,
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        mode: boot::Mode::Long64,
        ram_mib: 2,
        load: boot::LOAD_MIN,
        entry: None,
        name: "acrn-dm-rs".into(),
        timeout: 0,
        uart: 0x3f8,
        exit_port: 0xf4,
        doorbell: 0xf0,
        info: 0x3000_0000,
        verbose: false,
        image: String::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        let num = |v: String| number(&v).ok_or(format!("{a}: bad number {v}"));
        match a.as_str() {
            "--mode" => {
                let v = value()?;
                o.mode = boot::Mode::parse(&v).ok_or(format!("bad mode {v}"))?;
            }
            "--ram" => o.ram_mib = num(value()?)? as usize,
            "--load" => o.load = num(value()?)?,
            "--entry" => o.entry = Some(num(value()?)?),
            "--name" => o.name = value()?,
            "--timeout" => o.timeout = num(value()?)? as u32,
            "--uart" => o.uart = num(value()?)?,
            "--exit-port" => o.exit_port = num(value()?)?,
            "--doorbell" => o.doorbell = num(value()?)?,
            "--info" => o.info = num(value()?)?,
            "--verbose" => o.verbose = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => o.image = s.to_string(),
        }
    }
    if o.image.is_empty() {
        return Err("no image".into());
    }
    if o.ram_mib == 0 || o.ram_mib > 1024 {
        return Err("--ram must be 1..1024 MiB".into());
    }
    Ok(o)
}

/// Runs the VM until it exits; returns the DM's exit status.
fn run(o: &Options) -> io::Result<u8> {
    let image = std::fs::read(&o.image)?;
    sys::interrupt_on(&[libc::SIGINT, libc::SIGTERM, libc::SIGALRM])?;
    let mut vm = hsm::Vm::create(&o.name, 0)?;
    vm.map_ram(o.ram_mib << 20)?;
    let ram = vm.ram_mut().ok_or(io::ErrorKind::Other)?;
    let bad = |e: boot::Error| io::Error::new(io::ErrorKind::InvalidInput, format!("{e:?}"));
    boot::load(ram, o.load, &image).map_err(bad)?;
    let regs = boot::setup(ram, o.mode, o.entry.unwrap_or(o.load)).map_err(bad)?;
    vm.set_bsp_regs(&regs)?;

    let mut bus = Bus::new(o.verbose);
    bus.claim(
        Space::Pio,
        o.uart..o.uart + 8,
        Box::new(Uart::new(io::stdout())),
    )?;
    bus.claim(Space::Pio, o.exit_port..o.exit_port + 1, Box::new(ExitPort))?;
    bus.claim(Space::Pio, o.doorbell..o.doorbell + 1, Box::new(Doorbell))?;
    let info = VmInfo {
        vmid: vm.vmid(),
        vcpus: vm.vcpu_num() as u16,
    };
    bus.claim(Space::Mmio, o.info..o.info + 4096, Box::new(info))?;

    vm.create_ioreq_client()?;
    if o.verbose {
        eprintln!(
            "acrn-dm-rs: VM {} ({} vCPUs) starting",
            vm.vmid(),
            vm.vcpu_num()
        );
    }
    sys::alarm(o.timeout);
    vm.start()?;
    loop {
        // A signal ends the wait with 0 (upstream HSM) or EINTR: check for one either way.
        match vm.attach() {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e),
            _ => {}
        }
        let sig = sys::LAST_SIGNAL.load(Ordering::Relaxed);
        if sig != 0 {
            eprintln!("acrn-dm-rs: stopping VM {} on signal {}", vm.vmid(), sig);
            return Ok(if sig == libc::SIGALRM {
                124
            } else {
                128 + sig as u8
            });
        }
        for vcpu in 0..vm.vcpu_num() {
            let slot = vm.slot(vcpu);
            // SAFETY: `slot` is in the VM's live I/O request page.
            let Some(mut req) = (unsafe { ioreq::take(slot) }) else {
                continue;
            };
            let action = bus.handle(&mut req);
            // SAFETY: As above; the request is ours until NOTIFY_REQUEST_FINISH.
            unsafe { ioreq::answer(slot, &req) };
            vm.notify_finish(vcpu)?;
            if let Action::Interrupt(vector) = action {
                // After the write completes, as a device raises an interrupt when it is done.
                vm.inject_msi(MSI_ADDR_VCPU0, u64::from(vector))?;
                if o.verbose {
                    eprintln!("acrn-dm-rs: MSI vector {vector:#x} to vCPU 0");
                }
            }
            if let Action::Exit(status) = action {
                if o.verbose {
                    eprintln!("acrn-dm-rs: guest exited with {status}");
                }
                return Ok(status);
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("acrn-dm-rs: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("acrn-dm-rs: {e}");
            ExitCode::from(1)
        }
    }
}
