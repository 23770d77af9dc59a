/**
 * nbprofile's channel from a kernel (the kernel's end: nbprofile/ipython/channel.py).
 *
 * When nbprofile loads, the kernel opens one comm with target `nbprofile`. Every kernel
 * connection this page makes for a notebook or a console registers the target, so that no
 * connection of ours closes the comm as unknown, and says hello on it; a page loaded after
 * nbprofile finds the open comm with a `comm_info_request`. Once a frontend said hello, the
 * kernel sends each notebook cell's footer here instead of as an output.
 */
import type { Kernel, KernelMessage } from '@jupyterlab/services';

export const TARGET = 'nbprofile';
export const PROTOCOL = 1;

/** The compact numbers a user may keep in the cell's metadata (an option). */
export interface FooterSummary {
  text: string;
  verdict: string | null;
  status: string;
  run_id: string;
  execution_count: number | null;
}

export interface FooterMessage {
  cell_id: string;
  run_id: string;
  seq: number;
  execution_count: number | null;
  /** a mime bundle: text/plain and text/html, as the output used to carry */
  bundle: Record<string, string>;
  summary: FooterSummary;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A footer message from the kernel, checked; null for anything else (another version's message). */
export function parseFooter(data: unknown): FooterMessage | null {
  if (!isObject(data) || !isObject(data.footer)) {
    return null;
  }
  const footer = data.footer;
  const bundle = footer.bundle;
  if (typeof footer.cell_id !== 'string' || !isObject(bundle) || !isObject(footer.summary)) {
    return null;
  }
  const strings: Record<string, string> = {};
  for (const [mime, value] of Object.entries(bundle)) {
    if (typeof value === 'string') {
      strings[mime] = value;
    }
  }
  if (strings['text/plain'] === undefined) {
    return null;
  }
  return {
    cell_id: footer.cell_id,
    run_id: String(footer.run_id ?? ''),
    seq: Number(footer.seq ?? 0),
    execution_count: typeof footer.execution_count === 'number' ? footer.execution_count : null,
    bundle: strings,
    summary: footer.summary as unknown as FooterSummary
  };
}

/**
 * The footer in an output the kernel marked as nbprofile's (``metadata.nbprofile.footer``);
 * null for every other output.
 */
export function footerOfOutput(cellId: string, output: unknown): FooterMessage | null {
  if (!isObject(output) || output.output_type !== 'display_data' || !isObject(output.metadata)) {
    return null;
  }
  const marker = output.metadata.nbprofile;
  if (!isObject(marker) || marker.footer === undefined || !isObject(output.data)) {
    return null;
  }
  const plain = output.data['text/plain'];
  return parseFooter({
    footer: {
      ...marker,
      cell_id: cellId,
      bundle: output.data,
      summary: { ...marker, text: Array.isArray(plain) ? plain.join('') : plain }
    }
  });
}

/** A running cell's numbers, once a second after two (nbprofile/ipython/live.py). */
export interface LiveMessage {
  cell_id: string;
  text: string;
}

export function parseLive(data: unknown): LiveMessage | null {
  if (!isObject(data) || !isObject(data.live)) {
    return null;
  }
  const { cell_id, text } = data.live;
  return typeof cell_id === 'string' && typeof text === 'string' ? { cell_id, text } : null;
}

export type FooterHandler = (kernel: Kernel.IKernelConnection, message: FooterMessage | LiveMessage) => void;

/** The page's end of the channel, for every kernel connection it is given. */
export class KernelChannels {
  private readonly attached = new WeakSet<Kernel.IKernelConnection>();
  private readonly open = new Set<Kernel.IComm>();

  constructor(private readonly onFooter: FooterHandler) {
    // best effort: a page that closes tells the kernels to show footers as outputs again
    window.addEventListener('beforeunload', () => this.sayGoodbye());
  }

  attach(kernel: Kernel.IKernelConnection | null | undefined): void {
    if (!kernel || kernel.isDisposed || this.attached.has(kernel) || !kernel.handleComms) {
      return;
    }
    this.attached.add(kernel);
    const opened = (comm: Kernel.IComm) => this.listen(kernel, comm);
    kernel.registerCommTarget(TARGET, opened);
    kernel.disposed.connect(() => this.attached.delete(kernel));
    void this.findOpen(kernel);
  }

  /** nbprofile loaded before this page connected: its comm is already open in the kernel. */
  private async findOpen(kernel: Kernel.IKernelConnection): Promise<void> {
    let reply: KernelMessage.ICommInfoReplyMsg;
    try {
      reply = await kernel.requestCommInfo({ target_name: TARGET });
    } catch (reason) {
      // a kernel that is restarting or gone: the comm_open of its next nbprofile reaches the target
      console.debug('nbprofile: could not ask the kernel for its open channel', reason);
      return;
    }
    if (reply.content.status !== 'ok' || kernel.isDisposed) {
      return;
    }
    for (const commId of Object.keys(reply.content.comms)) {
      if (!kernel.hasComm(commId)) {
        this.listen(kernel, kernel.createComm(TARGET, commId));
      }
    }
  }

  private listen(kernel: Kernel.IKernelConnection, comm: Kernel.IComm): void {
    this.open.add(comm);
    comm.onMsg = msg => {
      const message = parseFooter(msg.content.data) ?? parseLive(msg.content.data);
      if (message !== null) {
        this.onFooter(kernel, message);
      }
    };
    comm.onClose = () => {
      this.open.delete(comm);
    };
    comm.send({ hello: PROTOCOL });
  }

  private sayGoodbye(): void {
    for (const comm of this.open) {
      if (!comm.isDisposed) {
        comm.send({ goodbye: PROTOCOL });
      }
    }
  }
}
