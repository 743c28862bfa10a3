# Dataset runs and studies: figures on ../shared/data, not pass/fail tests (included by ../Makefile,
# run from the repository root: `make <target>`; `make help` lists them). Each writes under runs/.
# benchmarks/README.md indexes every study script.

.PHONY: run-shc run-sent
run-shc: setup  ## the same pipeline on ../shared/data/mahanews-shc
	$(BIN)/slimnlp run --config configs/mahanews-shc.yaml

run-sent: setup  ## the same pipeline on ../shared/data/mahasent-mr
	$(BIN)/slimnlp run --config configs/mahasent-mr.yaml

# --- a teacher without a model hub (issue 7): in-domain masked-LM pretraining, resumable and cached
PRETRAIN_CONFIG ?= configs/pretrain-cpu.yaml
.PHONY: pretrain run-pretrained

pretrain: setup  ## masked-LM pretrain a teacher on ../shared/data/corpus (PRETRAIN_CONFIG; ~35 min CPU; rerun resumes)
	HF_HUB_OFFLINE=1 $(BIN)/slimnlp prepare-data --config $(PRETRAIN_CONFIG)
	HF_HUB_OFFLINE=1 $(BIN)/slimnlp pretrain-mlm --config $(PRETRAIN_CONFIG)

run-pretrained: setup  ## the SHC pipeline with the pretrain-mlm step before the teacher (pretrain.enabled)
	HF_HUB_OFFLINE=1 $(BIN)/slimnlp run --config $(PRETRAIN_CONFIG)

BENCH_CONFIG ?= benchmarks/shc.yaml
BENCH_ARGS ?=
.PHONY: bench
bench: setup  ## benchmark figures on ../shared/data/mahanews-shc: best student vs every baseline (~20 min + ~35 min pretraining the first time)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench.py --config $(BENCH_CONFIG) $(BENCH_ARGS)

SCALE_ARGS ?= --shapes teacher,s50,s75,l6,l4,l6-h384,l4-s50 --points 1@128,32@128 --runtimes int8,int8-fused
.PHONY: scale scale-run
scale: setup  ## BERT-base teacher with a 197k vocabulary and its compressed shapes: step memory/time, size, ORT latency (benchmarks/scale.py; random weights; ~30 min)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/scale.py --out runs/scale $(SCALE_ARGS)

scale-run: setup  ## slimnlp run with a BERT-base-size, 197k-vocabulary local teacher (configs/scale-bert-base.yaml; random weights; ~1 h on 2 cores)
	test -f runs/scale/teacher-197k/model.safetensors || HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/scale.py --save-teacher runs/scale/teacher-197k
	HF_HUB_OFFLINE=1 $(BIN)/slimnlp run --config configs/scale-bert-base.yaml

# --- NAS structural pruning (issue 15): a Pareto front of measured latency, one student picked by budget
.PHONY: nas-shc nas-study nas-latency
nas-shc: setup  ## prune.method nas on ../shared/data/mahanews-shc with the pretrained CPU teacher (over an hour on 2 cores after the pretraining: the 20 teacher epochs dominate)
	HF_HUB_OFFLINE=1 $(BIN)/slimnlp run --config configs/nas-shc.yaml

nas-study: setup  ## the nas-shc front beside importance pruning at equal latency (benchmarks/nas_study.py; after nas-shc)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/nas_study.py --run runs/nas-shc

nas-latency: setup  ## the latency side of nas on the CPU teacher's shape: table, its error, shapes that reach 3x (benchmarks/nas_latency.py; after make pretrain)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/nas_latency.py --model $$(ls -d runs/pretrain-cache/*/model | head -1) --data runs/mahanews-shc-pretrain-cpu/data

# --- calibrated one-shot pruning (issue 16): which language to calibrate in (after `make pretrain`)
STUDY_DIR ?= runs/calibration-study
STUDY_ARGS ?= --recover all
PRETRAINED_DIR ?= runs/mahanews-shc-pretrain-cpu
.PHONY: calibration-study
calibration-study: setup  ## magnitude/wanda/sparsegpt x calibration language on the pretrained SHC teacher, + structured one-shot (benchmarks/calibration_study.py; cached per cell)
	test -f $(STUDY_DIR)/teacher/metrics.json || HF_HUB_OFFLINE=1 $(BIN)/slimnlp train-teacher \
		--config $(PRETRAIN_CONFIG) --set teacher.checkpoint=$(PRETRAINED_DIR)/pretrained \
		--data $(PRETRAINED_DIR)/data --out $(STUDY_DIR)/teacher
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/calibration_study.py --config $(PRETRAIN_CONFIG) \
		--data $(PRETRAINED_DIR)/data --teacher $(STUDY_DIR)/teacher --mlm $(PRETRAINED_DIR)/pretrained \
		--out $(STUDY_DIR) $(STUDY_ARGS)

.PHONY: sparse24-cuda
sparse24-cuda: setup  ## 2:4 models dense vs PyTorch's semi-structured sparse kernels (needs a CUDA GPU >= sm80; exits 2 elsewhere)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/sparse24_cuda.py --out runs/sparse24 $(SPARSE24_ARGS)

# --- peers (issue 27): slimnlp beside Torch-Pruning, Optimum, Model2Vec, fastText, TextPruner on one teacher and harness
PEERS_CONFIG ?= configs/mahasent-mr.yaml
PEERS_RUN ?= runs/mahasent-mr
PEERS_ARGS ?=
.PHONY: peers
peers: setup  ## peer tools on PEERS_CONFIG's teacher and data (PEERS_RUN), timed with slimnlp's harness: benchmarks/peers.py (own venvs under runs/peers/venvs)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/peers.py --config $(PEERS_CONFIG) --run $(PEERS_RUN) $(PEERS_ARGS)
