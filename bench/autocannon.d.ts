/** The part of autocannon 8's API the benchmark uses (the package ships no type declarations). */
declare module 'autocannon' {
  type Options = {
    url: string;
    connections?: number;
    duration?: number;
    pipelining?: number;
    headers?: Record<string, string>;
    expectBody?: string;
  };
  function autocannon(opts: Options): Promise<unknown>;
  export default autocannon;
}
