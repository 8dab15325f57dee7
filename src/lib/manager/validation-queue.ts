/**
 * Engines are validated (info, version, every container listed and inspected) a bounded number at a
 * time, in the order they were added, so that a thousand engines joining at once do not open
 * thousands of connections and contend for the event loop: each is done sooner and all are sooner.
 * A validation that takes longer than `slowMs` gives its place to the next one and goes on outside
 * the bound, so slow or unreachable engines never hold the others back.
 */
export class ValidationQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly slowMs: number,
  ) {}

  run(validate: () => Promise<unknown>): void {
    this.waiting.push(() => {
      this.running++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        clearTimeout(timer);
        this.running--;
        this.next();
      };
      const timer = setTimeout(release, this.slowMs);
      timer.unref?.();
      void validate().finally(release);
    });
    this.next();
  }

  private next(): void {
    while (this.running < this.limit && this.waiting.length) this.waiting.shift()!();
  }
}
