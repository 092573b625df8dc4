"""The WaveNet: the network (``model``), its training data (``discovery``: which files,
which labels; ``data``: the corpus, cached and split; ``windows``: windows of mu-law audio),
training (``train``, with its run folder ``run_dir`` and TensorBoard ``board``;
``distributed``, ``finetune``), ``checkpoint``, held-out likelihood (``evaluate``), and
sample-by-sample generation: incremental queues (``incremental``), the compiled C++ step
(``compiled``, ``kernels/``), engine choice and sampling (``generate``), a run's clips
as WAV files (``to_audio``), re-synthesis of recordings from their features
(``resynthesis``)."""
