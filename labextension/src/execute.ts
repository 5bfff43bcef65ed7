/**
 * What the panel runs in the notebook's kernel itself (not through a cell): the code of
 * a resume, and how what it prints is collected.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { KernelMessage } from '@jupyterlab/services';

/**
 * The extension loaded once (a fresh kernel has not loaded it): what `%mn_resume` and a
 * `%%mn_step` cell need. Sent as an execute request, so it works whatever cell is active.
 */
export const LOAD_CODE = [
  'if "mirrorneuron_nb" not in get_ipython().extension_manager.loaded:',
  '    %load_ext mirrorneuron_nb'
].join('\n');

export const RESUME_CODE = [LOAD_CODE, '%mn_resume'].join('\n');

export interface IKernelRun {
  ok: boolean;
  text: string;
}

/**
 * Run code in the notebook's kernel (starting it if it is dead) and collect what it
 * printed. Not stored in the kernel's history; nothing is added to the notebook.
 */
export async function runInKernel(session: ISessionContext, code: string): Promise<IKernelRun> {
  if (!session.session?.kernel || session.hasNoKernel) {
    throw new Error('this notebook has no kernel: select one first');
  }
  if (session.session.kernel.status === 'dead') {
    await session.restartKernel();
  }
  const kernel = session.session?.kernel;
  if (!kernel) {
    throw new Error('the kernel did not start');
  }
  const chunks: string[] = [];
  const future = kernel.requestExecute({
    code,
    silent: false,
    store_history: false,
    allow_stdin: false,
    stop_on_error: true
  });
  future.onIOPub = (msg: KernelMessage.IIOPubMessage): void => {
    if (KernelMessage.isStreamMsg(msg)) {
      chunks.push(msg.content.text);
    } else if (KernelMessage.isErrorMsg(msg)) {
      chunks.push(`${msg.content.ename}: ${msg.content.evalue}\n`);
    } else if (KernelMessage.isExecuteResultMsg(msg) || KernelMessage.isDisplayDataMsg(msg)) {
      const plain = msg.content.data['text/plain'];
      if (typeof plain === 'string') {
        chunks.push(plain + '\n');
      }
    }
  };
  const reply = await future.done;
  return { ok: reply.content.status === 'ok', text: chunks.join('').trimEnd() };
}
