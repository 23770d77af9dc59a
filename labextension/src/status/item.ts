/**
 * The status-bar readout: how long the current notebook's running cell has run, and the
 * memory its kernel holds now. Elapsed time comes from the kernel's own messages (the
 * `execute_input` that starts a cell, the `idle` that ends it), so it costs the kernel
 * nothing; memory comes from the server, polled only while the readout is visible.
 */
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { APIError, NbprofileAPI } from '../api.js';
import type { KernelUsage } from '../types.js';
import { describe } from './describe.js';

/** How often memory is asked for while a cell runs, and while the kernel is idle. */
const BUSY_MS = 2000;
const IDLE_MS = 5000;

interface Running {
  msgId: string;
  since: number;
}

export class KernelStatusItem extends Widget {
  private kernel: Kernel.IKernelConnection | null = null;
  private running: Running | null = null;
  private usage: KernelUsage | null = null;
  private ticker: number | null = null;
  private timer: number | null = null;
  private failures = 0;

  constructor(private readonly api: NbprofileAPI) {
    super();
    this.addClass('nbp-status');
    this.node.setAttribute('role', 'status');
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  private readonly onVisibility = (): void => {
    if (!document.hidden) {
      this.askSoon(0);
    }
  };

  /** Ask the server for the kernel's memory after ``delay`` ms, instead of at the planned time. */
  private askSoon(delay: number): void {
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
    }
    this.timer = window.setTimeout(() => void this.ask(), delay);
  }

  private async ask(): Promise<void> {
    this.timer = null;
    // nothing is asked while the readout, or the browser tab, is hidden: a visibility change
    // or the next cell asks again
    if (this.kernel === null || document.hidden || !this.isVisible) {
      return;
    }
    await this.fetchUsage();
    const base = this.running !== null ? BUSY_MS : IDLE_MS;
    this.askSoon(Math.min(60_000, base * 2 ** this.failures)); // backs off while the server fails
  }

  /** Follow another kernel (the current notebook changed, or its kernel did). */
  follow(kernel: Kernel.IKernelConnection | null): void {
    if (kernel === this.kernel) {
      return;
    }
    this.kernel?.iopubMessage.disconnect(this.onIopub, this);
    this.kernel?.statusChanged.disconnect(this.onStatus, this);
    this.kernel = kernel;
    this.running = null;
    this.usage = null;
    kernel?.iopubMessage.connect(this.onIopub, this);
    kernel?.statusChanged.connect(this.onStatus, this);
    this.update();
    this.askSoon(0);
  }

  dispose(): void {
    this.follow(null);
    document.removeEventListener('visibilitychange', this.onVisibility);
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
    }
    this.stopTicking();
    super.dispose();
  }

  protected onAfterShow(): void {
    this.askSoon(0);
  }

  private onIopub(_: Kernel.IKernelConnection, msg: KernelMessage.IIOPubMessage): void {
    const parent = (msg.parent_header as Partial<KernelMessage.IHeader>).msg_id ?? '';
    if (msg.header.msg_type === 'execute_input') {
      this.running = { msgId: parent, since: Date.now() };
      this.startTicking();
      this.askSoon(BUSY_MS);
    } else if (
      msg.header.msg_type === 'status' &&
      (msg as KernelMessage.IStatusMsg).content.execution_state === 'idle' &&
      this.running?.msgId === parent
    ) {
      this.running = null;
      this.stopTicking();
      this.askSoon(0); // the memory the cell left behind
    }
    this.update();
  }

  private onStatus(_: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this.running = null;
      this.usage = null;
      this.stopTicking();
      this.update();
    }
  }

  private async fetchUsage(): Promise<void> {
    const kernel = this.kernel;
    if (kernel === null) {
      return;
    }
    try {
      const usage = await this.api.kernelUsage(kernel.id);
      if (kernel === this.kernel) {
        this.usage = usage;
      }
      this.failures = 0;
    } catch (error) {
      this.usage = null;
      // 404: a kernel the server no longer has (the next follow() starts again); else back off
      this.failures = error instanceof APIError && error.status === 404 ? 10 : this.failures + 1;
    }
    this.update();
  }

  private startTicking(): void {
    if (this.ticker === null) {
      this.ticker = window.setInterval(() => this.isVisible && this.update(), 1000);
    }
  }

  private stopTicking(): void {
    if (this.ticker !== null) {
      window.clearInterval(this.ticker);
      this.ticker = null;
    }
  }

  protected onUpdateRequest(): void {
    const { text, title } = describe(this.running, this.usage, Date.now());
    this.node.textContent = text;
    this.node.title = title;
    this.node.dataset.running = this.running === null ? 'no' : 'yes';
  }
}
