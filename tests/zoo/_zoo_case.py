"""What every zoo test checks for one model (the test files split the zoo for parallel runs)."""

from conftest import check_model_bytes
from zoo import ZooModel

from protobrain.compiler.reader import read_model_bytes

def check_zoo_model(model: ZooModel) -> None:
    data = model.tflite()
    compiled = check_model_bytes(data, model.name, n_random=4)
    # Shape arithmetic (int32 values computed from int32 shapes) is the generator's to fold.
    g = compiled.program.graph

    def int32(indices):
        return all(g.tensors[i].dtype == "int32" for i in indices if i >= 0)

    left = [s.op.name for s in compiled.program.steps
            if s.op.name == "SHAPE" or (s.call and int32(s.op.outputs) and int32(s.op.inputs))]
    assert not left, f"{model.name}: shape arithmetic left at run time: {sorted(set(left))}"
    assert read_model_bytes(data).operators, "the converter produced an empty model"
