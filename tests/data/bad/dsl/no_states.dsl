net x
{
  node A
  {
    TYPE = CPT;
    PARENTS = ();
    DEFINITION =
    {
      PROBABILITIES = (0.5, 0.5);
    };
  };
};
