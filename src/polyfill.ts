// libp2p 3 calls Promise.withResolvers (Node 22+); on Node 20 it is missing. Every entry point
// (CLI, tests, scripts, workers) imports this module first, before anything that loads libp2p.
if (typeof (Promise as any).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (this: PromiseConstructor) {
      let resolve!: (v: T | PromiseLike<T>) => void
      let reject!: (r?: unknown) => void
      const promise = new this<T>((a, b) => { resolve = a; reject = b })
      return { promise, resolve, reject }
    }
  })
}
export {}
